#include "vmm/json_syntax_error.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <vector>

#include <fmt/core.h>

namespace ember {
namespace {

// serde counts lines from 1 and columns from 1, the column being that of the byte where it
// stopped (0 when it stopped before the first byte of a line).
std::string position(std::string_view text, size_t offset) {
    size_t line = 1;
    size_t line_start = 0;
    for (size_t i = 0; i < offset && i < text.size(); ++i) {
        if (text[i] == '\n') {
            ++line;
            line_start = i + 1;
        }
    }
    return fmt::format("line {} column {}", line, offset - line_start);
}

// What serde was parsing when the input ran out: the innermost open string or container, or a
// value when one was due (after ':' or ',', or nothing at all). One linear pass.
std::string_view eof_context(std::string_view text) {
    std::vector<char> open;
    bool in_string = false;
    bool escaped = false;
    char last = 0;  // The last significant byte outside strings.
    for (char c : text) {
        if (in_string) {
            if (escaped) {
                escaped = false;
            } else if (c == '\\') {
                escaped = true;
            } else if (c == '"') {
                in_string = false;
                last = c;
            }
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
        if (c == '"') in_string = true;
        if (c == '{' || c == '[') open.push_back(c);
        if ((c == '}' || c == ']') && !open.empty()) open.pop_back();
        last = c;
    }
    if (in_string) return "a string";
    if (open.empty() || last == ':' || (last == ',' && open.back() == '[')) return "a value";
    return open.back() == '{' ? "an object" : "a list";
}

}  // namespace

std::optional<std::string> json_syntax_error(std::string_view text) {
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseIterativeFlag>(text.data(), text.size());
    if (!doc.HasParseError()) return std::nullopt;
    size_t offset = doc.GetErrorOffset();
    // Where serde runs out of input, rapidjson stops at the end (or reports an empty document).
    if (offset >= text.size() || doc.GetParseError() == rapidjson::kParseErrorDocumentEmpty) {
        bool blank = text.find_first_not_of(" \t\r\n") == std::string_view::npos;
        if (blank || offset >= text.size()) {
            return fmt::format("EOF while parsing {} at {}", eof_context(text),
                               position(text, text.size()));
        }
    }
    return fmt::format("{} at {}", rapidjson::GetParseError_En(doc.GetParseError()),
                       position(text, offset + 1));
}

}  // namespace ember
