// Result<T>: errors as values, with std::expected's member names (GCC 12 lacks <expected>).
#pragma once

#include <cerrno>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <variant>

namespace ember {

// What went wrong, for whoever answers the caller (the API maps each kind to an HTTP status in
// api/error_status.cc): callers decide the kind, never a status code.
enum class ErrorKind {
    kInvalidInput,  // The request or file is wrong: a bad field, a missing file it names.
    kWrongPhase,    // Valid, but not now: before boot, after boot, while running.
    kNotFound,      // It names a drive, interface or other object that does not exist.
    kUnsupported,   // A feature Ember does not have.
    kInternal,      // The host failed (a syscall, KVM): not the caller's fault.
    kTooLarge,      // Over a size limit the caller set (the MMDS data store's).
};

// An error: a kind, a code (the OS cause, empty when there is none) plus a context naming the
// syscall or step that failed, and an optional detail (a path, a field name) for the human
// reading it.
class Error {
public:
    Error() = default;
    Error(std::error_code code, const char* context, std::string detail = {},
          ErrorKind kind = ErrorKind::kInternal)
        : code_(code), context_(context), detail_(std::move(detail)), kind_(kind) {}

    // The current errno, attributed to `context`; internal unless the caller knows better (a
    // file the request named is the request's fault).
    static Error from_errno(const char* context, std::string detail = {},
                            ErrorKind kind = ErrorKind::kInternal) {
        return {std::error_code(errno, std::system_category()), context, std::move(detail), kind};
    }
    static Error from_errno(int err, const char* context, std::string detail = {},
                            ErrorKind kind = ErrorKind::kInternal) {
        return {std::error_code(err, std::system_category()), context, std::move(detail), kind};
    }
    // An error with no OS cause: bad input, a format violation.
    static Error invalid(const char* context, std::string detail = {}) {
        return {std::make_error_code(std::errc::invalid_argument), context, std::move(detail),
                ErrorKind::kInvalidInput};
    }
    // A call the VM's phase does not allow. Its code (EPERM) is part of the message, as it was
    // before errors had kinds.
    static Error wrong_phase(const char* context, std::string detail = {}) {
        return {std::make_error_code(std::errc::operation_not_permitted), context,
                std::move(detail), ErrorKind::kWrongPhase};
    }
    static Error not_found(const char* context, std::string detail = {}) {
        return {std::error_code(), context, std::move(detail), ErrorKind::kNotFound};
    }
    static Error unsupported(const char* context, std::string detail = {}) {
        return {std::error_code(), context, std::move(detail), ErrorKind::kUnsupported};
    }
    static Error too_large(const char* context, std::string detail = {}) {
        return {std::error_code(), context, std::move(detail), ErrorKind::kTooLarge};
    }

    const std::error_code& code() const { return code_; }
    const char* context() const { return context_; }
    const std::string& detail() const { return detail_; }
    ErrorKind kind() const { return kind_; }

    // The same error as another kind (e.g. a failed open of a path the request named).
    Error with_kind(ErrorKind kind) const {
        Error out = *this;
        out.kind_ = kind;
        return out;
    }

    // The same error under an outer `context`, about `subject` when given: its message reads
    // "context: subject: " + message().
    Error within(const char* context, std::string_view subject = {}) const {
        std::string detail(subject);
        if (!detail.empty()) detail += ": ";
        detail += context_ ? context_ : "error";
        if (!detail_.empty()) detail += ": " + detail_;
        return {code_, context, std::move(detail), kind_};
    }

    // "context: detail: strerror" with empty parts left out.
    std::string message() const {
        std::string out = context_ ? context_ : "error";
        if (!detail_.empty()) out += ": " + detail_;
        if (code_ && code_ != std::errc::invalid_argument) out += ": " + code_.message();
        return out;
    }

private:
    std::error_code code_;
    const char* context_ = nullptr;
    std::string detail_;
    ErrorKind kind_ = ErrorKind::kInternal;
};

// Wraps an Error so that `return unexpected(err);` reads as in std::expected.
struct Unexpected {
    Error error;
};
inline Unexpected unexpected(Error e) { return Unexpected{std::move(e)}; }

template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
    Result(Error e) : v_(std::in_place_index<1>, std::move(e)) {}
    Result(Unexpected u) : v_(std::in_place_index<1>, std::move(u.error)) {}

    bool has_value() const { return v_.index() == 0; }
    explicit operator bool() const { return has_value(); }

    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T&& operator*() && { return std::move(*this).value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    const Error& error() const { return std::get<1>(v_); }
    Error& error() { return std::get<1>(v_); }

private:
    std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error e) : error_(std::move(e)), ok_(false) {}
    Result(Unexpected u) : error_(std::move(u.error)), ok_(false) {}

    bool has_value() const { return ok_; }
    explicit operator bool() const { return ok_; }
    void value() const {}
    const Error& error() const { return error_; }
    Error& error() { return error_; }

private:
    Error error_;
    bool ok_ = true;
};

// An empty success, for `return ok();` in Result<void> functions.
inline Result<void> ok() { return {}; }

}  // namespace ember

// Propagates the error of a Result expression, else yields its value (as Rust's `?`).
// GNU statement expression: GCC and clang both support it.
#define EMBER_TRY(expr)                                                      \
    __extension__({                                                          \
        auto&& ember_try_result_ = (expr);                                   \
        if (!ember_try_result_) return std::move(ember_try_result_).error(); \
        std::move(ember_try_result_).value();                                \
    })
