// PyTokenizer: a Tokenizer shared with Python, kept alive by whatever owns it (an engine or files).
#pragma once

#include <memory>

#include "src/tokenizer/tokenizer.h"

namespace pagellm::python {

struct PyTokenizer {
  std::shared_ptr<const Tokenizer> tok;  // never null
};

}  // namespace pagellm::python
