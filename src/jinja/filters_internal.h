// Declarations shared by filters.cc and filters_seq.cc (the sequence filters).
#pragma once

#include <string>

#include "src/jinja/interpreter.h"
#include "src/jinja/value.h"

namespace pagellm::jinja::filters {

// Python str(v), charged against the evaluation limits.
StatusOr<std::string> SoftStr(Interpreter& in, const Value& v);

#define PAGELLM_JINJA_FILTER(Name) StatusOr<Value> Name(Interpreter& in, const Value& v, CallArgs& args)
PAGELLM_JINJA_FILTER(Batch);
PAGELLM_JINJA_FILTER(Dictsort);
PAGELLM_JINJA_FILTER(First);
PAGELLM_JINJA_FILTER(Items);
PAGELLM_JINJA_FILTER(Join);
PAGELLM_JINJA_FILTER(Last);
PAGELLM_JINJA_FILTER(List);
PAGELLM_JINJA_FILTER(Map);
PAGELLM_JINJA_FILTER(Max);
PAGELLM_JINJA_FILTER(Min);
PAGELLM_JINJA_FILTER(Reject);
PAGELLM_JINJA_FILTER(Rejectattr);
PAGELLM_JINJA_FILTER(Reverse);
PAGELLM_JINJA_FILTER(Select);
PAGELLM_JINJA_FILTER(Selectattr);
PAGELLM_JINJA_FILTER(SliceFilter);
PAGELLM_JINJA_FILTER(Sort);
PAGELLM_JINJA_FILTER(Sum);
PAGELLM_JINJA_FILTER(Unique);
#undef PAGELLM_JINJA_FILTER

}  // namespace pagellm::jinja::filters
