// Jinja2 built-in filters on sequences: map, select/reject(attr), sort, dictsort, unique,
// min/max/sum, join, first/last, list, items, reverse, batch, slice. Results that Jinja2 returns
// as generators are materialized as lists.
#include <algorithm>

#include "src/jinja/builtins.h"
#include "src/jinja/filters_internal.h"
#include "src/jinja/pystr.h"

namespace pagellm::jinja::filters {

namespace {

Value IgnoreCase(const Value& v) { return v.is_string() ? Value::Str(py::Lower(v.str())) : v; }

// Jinja's make_attrgetter: "a.b.0" looks up item["a"]["b"][0] with the getitem rules.
class AttrGetter {
 public:
  AttrGetter(const std::optional<Value>& attribute, bool ignore_case, std::optional<Value> dflt)
      : ignore_case_(ignore_case), default_(std::move(dflt)) {
    if (!attribute || attribute->is_none()) return;
    if (!attribute->is_string()) {
      parts_.push_back(*attribute);
      return;
    }
    for (std::string& p : py::Split(attribute->str(), std::string("."), -1)) {
      const bool digits = !p.empty() && std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; });
      if (digits && p.size() < 18) {
        parts_.push_back(Value::Int(std::stoll(p)));
      } else {
        parts_.push_back(Value::Str(std::move(p)));
      }
    }
  }

  StatusOr<Value> operator()(Interpreter& in, const Value& item) const {
    Value v = item;
    for (const Value& part : parts_) {
      ASSIGN_OR_RETURN(v, in.GetItem(v, part));
      if (default_ && !default_->is_none() && v.is_undefined()) v = *default_;
    }
    return ignore_case_ ? IgnoreCase(v) : v;
  }

 private:
  std::vector<Value> parts_;
  bool ignore_case_;
  std::optional<Value> default_;
};

bool CaseSensitive(const std::optional<Value>& v) { return v && Truthy(*v); }

// Sorts values by precomputed keys (stable, Python's < only).
Status SortByKeys(std::vector<Value>* items, std::vector<Value> keys, bool reverse) {
  std::vector<size_t> order(items->size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  Status err;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    auto lt = reverse ? Less(keys[b], keys[a]) : Less(keys[a], keys[b]);
    if (!lt.ok()) {
      if (err.ok()) err = lt.status();
      return false;
    }
    return *lt;
  });
  RETURN_IF_ERROR(err);
  std::vector<Value> sorted;
  sorted.reserve(order.size());
  for (size_t i : order) sorted.push_back((*items)[i]);
  *items = std::move(sorted);
  return absl::OkStatus();
}

StatusOr<Value> MinMax(Interpreter& in, const Value& v, CallArgs& args, bool is_max) {
  ASSIGN_OR_RETURN(auto a, BindArgs(is_max ? "max" : "min", args, {"case_sensitive", "attribute"}));
  ASSIGN_OR_RETURN(std::vector<Value> items, in.Iterate(v));
  if (items.empty()) return Value::Undefined("No aggregated item, sequence was empty.");
  const AttrGetter key(a[1], !CaseSensitive(a[0]), std::nullopt);
  size_t best = 0;
  ASSIGN_OR_RETURN(Value best_key, key(in, items[0]));
  for (size_t i = 1; i < items.size(); ++i) {
    ASSIGN_OR_RETURN(Value k, key(in, items[i]));
    ASSIGN_OR_RETURN(bool better, is_max ? Less(best_key, k) : Less(k, best_key));
    if (better) {
      best = i;
      best_key = k;
    }
  }
  return items[best];
}

// select / reject / selectattr / rejectattr.
StatusOr<Value> SelectOrReject(Interpreter& in, const Value& v, CallArgs& args, bool select,
                               bool lookup_attr) {
  if (!Truthy(v)) return in.heap().NewList();  // jinja2: `if value:` before iterating
  size_t off = 0;
  std::optional<AttrGetter> attr;
  if (lookup_attr) {
    if (args.pos.empty()) return InvalidArgument("Missing parameter for attribute name");
    attr.emplace(args.pos[0], false, std::nullopt);
    off = 1;
  }
  std::string test;
  CallArgs test_args;
  const bool has_test = args.pos.size() > off;
  if (has_test) {
    if (!args.pos[off].is_string()) return TypeError("test name must be a string");
    test = args.pos[off].str();
    test_args.pos.assign(args.pos.begin() + static_cast<std::ptrdiff_t>(off + 1), args.pos.end());
    test_args.kw = args.kw;
  }
  ASSIGN_OR_RETURN(std::vector<Value> items, in.Iterate(v));
  std::vector<Value> out;
  for (const Value& item : items) {
    Value probe = item;
    if (attr) {
      ASSIGN_OR_RETURN(probe, (*attr)(in, item));
    }
    bool r;
    if (has_test) {
      CallArgs copy = test_args;
      ASSIGN_OR_RETURN(r, in.ApplyTest(test, probe, copy));
    } else {
      r = Truthy(probe);
    }
    if (r == select) out.push_back(item);
  }
  return in.heap().NewList(std::move(out));
}

}  // namespace

StatusOr<Value> Batch(Interpreter& in, const Value& v, CallArgs& args) {
  ASSIGN_OR_RETURN(auto a, BindArgs("batch", args, {"linecount", "fill_with"}));
  if (!a[0]) return TypeError("batch() missing required argument 'linecount'");
  ASSIGN_OR_RETURN(int64_t n, IntArg("batch", "linecount", *a[0]));
  if (n <= 0) return InvalidArgument("batch(): linecount must be positive");
  ASSIGN_OR_RETURN(std::vector<Value> items, in.Iterate(v));
  if (a[1] && !a[1]->is_none()) RETURN_IF_ERROR(in.Charge(static_cast<uint64_t>(n)));  // padding
  std::vector<Value> out;
  for (size_t i = 0; i < items.size(); i += static_cast<size_t>(n)) {
    std::vector<Value> chunk(items.begin() + static_cast<std::ptrdiff_t>(i),
                             items.begin() + static_cast<std::ptrdiff_t>(std::min(items.size(), i + static_cast<size_t>(n))));
    if (a[1] && !a[1]->is_none()) {
      while (chunk.size() < static_cast<size_t>(n)) chunk.push_back(*a[1]);
    }
    out.push_back(in.heap().NewList(std::move(chunk)));
  }
  return in.heap().NewList(std::move(out));
}

StatusOr<Value> SliceFilter(Interpreter& in, const Value& v, CallArgs& args) {
  ASSIGN_OR_RETURN(auto a, BindArgs("slice", args, {"slices", "fill_with"}));
  if (!a[0]) return TypeError("slice() missing required argument 'slices'");
  ASSIGN_OR_RETURN(int64_t slices, IntArg("slice", "slices", *a[0]));
  if (slices <= 0) return InvalidArgument("slice(): slices must be positive");
  if (slices > 100000) return InvalidArgument("slice(): too many slices");
  ASSIGN_OR_RETURN(std::vector<Value> seq, in.Iterate(v));
  const auto length = static_cast<int64_t>(seq.size());
  const int64_t per = length / slices, extra = length % slices;
  int64_t offset = 0;
  std::vector<Value> out;
  for (int64_t k = 0; k < slices; ++k) {
    const int64_t start = offset + k * per;
    if (k < extra) ++offset;
    const int64_t end = offset + (k + 1) * per;
    std::vector<Value> tmp(seq.begin() + start, seq.begin() + end);
    if (a[1] && !a[1]->is_none() && k >= extra) tmp.push_back(*a[1]);
    out.push_back(in.heap().NewList(std::move(tmp)));
  }
  return in.heap().NewList(std::move(out));
}

StatusOr<Value> Dictsort(Interpreter& in, const Value& v, CallArgs& args) {
  ASSIGN_OR_RETURN(auto a, BindArgs("dictsort", args, {"case_sensitive", "by", "reverse"}));
  const std::string by = a[1] ? ToStr(*a[1]) : "key";
  if (by != "key" && by != "value") return InvalidArgument("You can only sort by either \"key\" or \"value\"");
  if (v.is_undefined()) return UndefinedError(v);
  if (!v.is_dict()) return TypeError(StrCat("'", TypeName(v), "' object has no attribute 'items'"));
  std::vector<Value> pairs, keys;
  for (const auto& [k, x] : v.dict()->entries) {
    pairs.push_back(in.heap().NewTuple({k, x}));
    const Value& key = by == "key" ? k : x;
    keys.push_back(CaseSensitive(a[0]) ? key : IgnoreCase(key));
  }
  RETURN_IF_ERROR(in.Charge(pairs.size()));
  RETURN_IF_ERROR(SortByKeys(&pairs, std::move(keys), a[2] && Truthy(*a[2])));
  return in.heap().NewList(std::move(pairs));
}

StatusOr<Value> Sort(Interpreter& in, const Value& v, CallArgs& args) {
  ASSIGN_OR_RETURN(auto a, BindArgs("sort", args, {"reverse", "case_sensitive", "attribute"}));
  ASSIGN_OR_RETURN(std::vector<Value> items, in.Iterate(v));
  const bool ignore_case = !CaseSensitive(a[1]);
  std::vector<AttrGetter> getters;
  if (a[2] && a[2]->is_string()) {
    for (const std::string& part : py::Split(a[2]->str(), std::string(","), -1)) {
      getters.emplace_back(Value::Str(part), ignore_case, std::nullopt);
    }
  } else {
    getters.emplace_back(a[2], ignore_case, std::nullopt);
  }
  std::vector<Value> keys;
  keys.reserve(items.size());
  for (const Value& item : items) {
    std::vector<Value> key;
    for (const AttrGetter& g : getters) {
      ASSIGN_OR_RETURN(Value k, g(in, item));
      key.push_back(std::move(k));
    }
    keys.push_back(in.heap().NewTuple(std::move(key)));
  }
  RETURN_IF_ERROR(in.Charge(items.size() * 4));
  RETURN_IF_ERROR(SortByKeys(&items, std::move(keys), a[0] && Truthy(*a[0])));
  return in.heap().NewList(std::move(items));
}

StatusOr<Value> Unique(Interpreter& in, const Value& v, CallArgs& args) {
  ASSIGN_OR_RETURN(auto a, BindArgs("unique", args, {"case_sensitive", "attribute"}));
  ASSIGN_OR_RETURN(std::vector<Value> items, in.Iterate(v));
  const AttrGetter key(a[1], !CaseSensitive(a[0]), std::nullopt);
  Value seen = in.heap().NewDict();
  std::vector<Value> out;
  for (const Value& item : items) {
    ASSIGN_OR_RETURN(Value k, key(in, item));
    if (!IsHashable(k)) return TypeError(StrCat("unhashable type: '", TypeName(k), "'"));
    if (seen.dict()->Find(k) != nullptr) continue;
    seen.dict()->Set(k, Value::None());
    out.push_back(item);
  }
  return in.heap().NewList(std::move(out));
}

StatusOr<Value> Min(Interpreter& in, const Value& v, CallArgs& args) { return MinMax(in, v, args, false); }
StatusOr<Value> Max(Interpreter& in, const Value& v, CallArgs& args) { return MinMax(in, v, args, true); }

StatusOr<Value> Sum(Interpreter& in, const Value& v, CallArgs& args) {
  ASSIGN_OR_RETURN(auto a, BindArgs("sum", args, {"attribute", "start"}));
  ASSIGN_OR_RETURN(std::vector<Value> items, in.Iterate(v));
  const AttrGetter key(a[0], false, std::nullopt);
  Value total = a[1].value_or(Value::Int(0));
  for (const Value& item : items) {
    ASSIGN_OR_RETURN(Value x, key(in, item));
    ASSIGN_OR_RETURN(total, BinaryOp(in, BinOp::kAdd, total, x));
  }
  return total;
}

StatusOr<Value> Join(Interpreter& in, const Value& v, CallArgs& args) {
  ASSIGN_OR_RETURN(auto a, BindArgs("join", args, {"d", "attribute"}));
  const std::string sep = a[0] ? ToStr(*a[0]) : "";
  ASSIGN_OR_RETURN(std::vector<Value> items, in.Iterate(v));
  const AttrGetter key(a[1], false, std::nullopt);
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep;
    if (a[1] && !a[1]->is_none()) {
      ASSIGN_OR_RETURN(Value x, key(in, items[i]));
      AppendStr(x, &out);
    } else {
      AppendStr(items[i], &out);
    }
    RETURN_IF_ERROR(in.ChargeBytes(out.size()));
  }
  return Value::Str(std::move(out));
}

StatusOr<Value> First(Interpreter& in, const Value& v, CallArgs& args) {
  RETURN_IF_ERROR(BindArgs("first", args, {}).status());
  if (v.is_sequence()) {
    if (v.list()->items.empty()) return Value::Undefined("No first item, sequence was empty.");
    return v.list()->items.front();
  }
  ASSIGN_OR_RETURN(std::vector<Value> items, in.Iterate(v));
  if (items.empty()) return Value::Undefined("No first item, sequence was empty.");
  return items.front();
}

StatusOr<Value> Last(Interpreter& in, const Value& v, CallArgs& args) {
  RETURN_IF_ERROR(BindArgs("last", args, {}).status());
  if (v.is_sequence()) {
    if (v.list()->items.empty()) return Value::Undefined("No last item, sequence was empty.");
    return v.list()->items.back();
  }
  ASSIGN_OR_RETURN(std::vector<Value> items, in.Iterate(v));
  if (items.empty()) return Value::Undefined("No last item, sequence was empty.");
  return items.back();
}

StatusOr<Value> List(Interpreter& in, const Value& v, CallArgs& args) {
  RETURN_IF_ERROR(BindArgs("list", args, {}).status());
  ASSIGN_OR_RETURN(std::vector<Value> items, in.Iterate(v));
  return in.heap().NewList(std::move(items));
}

StatusOr<Value> Items(Interpreter& in, const Value& v, CallArgs& args) {
  RETURN_IF_ERROR(BindArgs("items", args, {}).status());
  if (v.is_undefined()) return in.heap().NewList();
  if (!v.is_dict()) return TypeError("Can only get item pairs from a mapping.");
  std::vector<Value> out;
  for (const auto& [k, x] : v.dict()->entries) out.push_back(in.heap().NewTuple({k, x}));
  RETURN_IF_ERROR(in.Charge(out.size()));
  return in.heap().NewList(std::move(out));
}

StatusOr<Value> Reverse(Interpreter& in, const Value& v, CallArgs& args) {
  RETURN_IF_ERROR(BindArgs("reverse", args, {}).status());
  if (v.is_string()) {
    auto cps = py::Decode(v.str());
    std::reverse(cps.begin(), cps.end());
    return Value::Str(py::Encode(cps));
  }
  auto items = in.Iterate(v);
  if (!items.ok()) return InvalidArgument("argument must be iterable");
  std::reverse(items->begin(), items->end());
  return in.heap().NewList(std::move(*items));
}

StatusOr<Value> Map(Interpreter& in, const Value& v, CallArgs& args) {
  if (!Truthy(v)) return in.heap().NewList();  // jinja2: `if value:` before iterating
  ASSIGN_OR_RETURN(std::vector<Value> items, in.Iterate(v));
  std::vector<Value> out;
  out.reserve(items.size());
  const bool by_attribute = args.pos.empty() && std::any_of(args.kw.begin(), args.kw.end(), [](const auto& kv) { return kv.first == "attribute"; });
  if (by_attribute) {
    std::optional<Value> attribute, dflt;
    for (const auto& [k, x] : args.kw) {
      if (k == "attribute") {
        attribute = x;
      } else if (k == "default") {
        dflt = x;
      } else {
        return InvalidArgument(StrCat("Unexpected keyword argument '", k, "'"));
      }
    }
    const AttrGetter key(attribute, false, dflt);
    for (const Value& item : items) {
      ASSIGN_OR_RETURN(Value x, key(in, item));
      out.push_back(std::move(x));
    }
    return in.heap().NewList(std::move(out));
  }
  if (args.pos.empty()) return InvalidArgument("map requires a filter argument");
  if (!args.pos[0].is_string()) return TypeError("map(): the filter name must be a string");
  const std::string name = args.pos[0].str();
  CallArgs rest;
  rest.pos.assign(args.pos.begin() + 1, args.pos.end());
  rest.kw = args.kw;
  for (const Value& item : items) {
    CallArgs copy = rest;
    ASSIGN_OR_RETURN(Value x, in.ApplyFilter(name, item, copy));
    out.push_back(std::move(x));
  }
  return in.heap().NewList(std::move(out));
}

StatusOr<Value> Select(Interpreter& in, const Value& v, CallArgs& args) { return SelectOrReject(in, v, args, true, false); }
StatusOr<Value> Reject(Interpreter& in, const Value& v, CallArgs& args) { return SelectOrReject(in, v, args, false, false); }
StatusOr<Value> Selectattr(Interpreter& in, const Value& v, CallArgs& args) { return SelectOrReject(in, v, args, true, true); }
StatusOr<Value> Rejectattr(Interpreter& in, const Value& v, CallArgs& args) { return SelectOrReject(in, v, args, false, true); }

}  // namespace pagellm::jinja::filters
