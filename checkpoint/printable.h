#pragma once
// Text from files (tensor names, paths read from a state file) made safe for
// a one-line message or a terminal: control characters (newline, NUL, ESC of
// an ANSI sequence, DEL) are shown as C escapes (\n, \0, \x1b), so a name
// cannot end a line, fake another, or drive the terminal. Other bytes,
// UTF-8 included, pass through.
#include <string>
#include <string_view>

namespace graft {

std::string printable(std::string_view text);

}  // namespace graft
