// serde_json's description of a JSON syntax error, for the startup log lines that Firecracker's
// tests match (`--metadata`: "... not valid json ... EOF while parsing an object"). Part of the
// `main` layer; pure text, no state.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ember {

// nullopt when `text` is one valid JSON document. Otherwise serde's words where Ember can tell
// them (input ending inside a value: "EOF while parsing an object at line 1 column 26"), else
// the parser's own reason at serde's "line L column C" position.
std::optional<std::string> json_syntax_error(std::string_view text);

}  // namespace ember
