# cmake/embed.cmake: turn a file into a C array at build time, so the
# dashboard page is part of the binary and users run no build step.
#   cmake -DIN=page.html -DOUT=page.c -DNAME=sl_dashboard_html -P embed.cmake
# defines `const unsigned char NAME[]` (NUL-terminated) and
# `const unsigned long NAME_len` (without the NUL).
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" n)
math(EXPR len "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE "${OUT}.tmp"
  "/* generated from ${IN} by cmake/embed.cmake: edit that file, not this one */\n"
  "const unsigned char ${NAME}[] = {\n${bytes}0};\n"
  "const unsigned long ${NAME}_len = ${len};\n")
file(RENAME "${OUT}.tmp" "${OUT}")
