// libfmt's compiled part, compiled once. Debian ships libfmt only as a shared library, and Ember's
// binaries are static, so they used fmt's header-only mode: every file that includes <fmt/core.h>
// then compiled all of fmt's formatting code, and GCC kept a private clone of it in each (84
// copies of the float formatter alone, 930 KB of the binary's 4 MB of code). Here it is compiled
// once, as fmt's own src/format.cc does for its library (fmt 9.1). fmt's thousands separator is
// fixed, so fmt needs no std::locale: nothing in Ember formats with `{:L}`.
#define FMT_STATIC_THOUSANDS_SEPARATOR ','
#include <fmt/format-inl.h>

FMT_BEGIN_NAMESPACE
namespace detail {

template FMT_API auto dragonbox::to_decimal(float x) noexcept -> dragonbox::decimal_fp<float>;
template FMT_API auto dragonbox::to_decimal(double x) noexcept -> dragonbox::decimal_fp<double>;

template FMT_API auto thousands_sep_impl(locale_ref) -> thousands_sep_result<char>;
template FMT_API auto decimal_point_impl(locale_ref) -> char;
template FMT_API void buffer<char>::append(const char*, const char*);
template FMT_API void vformat_to(buffer<char>&, string_view,
                                 basic_format_args<FMT_BUFFER_CONTEXT(char)>, locale_ref);

template FMT_API auto thousands_sep_impl(locale_ref) -> thousands_sep_result<wchar_t>;
template FMT_API auto decimal_point_impl(locale_ref) -> wchar_t;
template FMT_API void buffer<wchar_t>::append(const wchar_t*, const wchar_t*);

}  // namespace detail
FMT_END_NAMESPACE
