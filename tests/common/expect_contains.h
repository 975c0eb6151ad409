#pragma once
// EXPECT_CONTAINS(text, part): a non-fatal check that `part` occurs in
// `text` (a std::string, a C string or anything std::string is built from),
// printing the whole text on failure.
#include <gtest/gtest.h>

#include <string>

#define EXPECT_CONTAINS(haystack, needle) \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << "in:\n" << (haystack)
