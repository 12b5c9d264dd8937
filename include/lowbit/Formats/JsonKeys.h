//===- JsonKeys.h - Typed access to a JSON configuration's keys -*- C++ -*-===//
//
// config.json, quantize_config.json and tokenizer_config.json are read
// through this: a key of the wrong type is reported as mistyped ("key
// 'hidden_size' must be an integer, got string "256""), never as missing and
// never silently replaced by a default.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_FORMATS_JSONKEYS_H
#define LOWBIT_FORMATS_JSONKEYS_H

#include "lowbit/Support/Error.h"

#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <optional>
#include <string>

namespace lowbit {

/// The keys of one JSON object of file `path` (`parent` names a nested
/// object in messages). Null counts as absent, as transformers writes unset
/// optional keys; the getters leave `out` unchanged for an absent key that
/// is not required.
class JsonKeys {
public:
  JsonKeys(llvm::StringRef path, const llvm::json::Object &obj,
           llvm::StringRef parent = {})
      : path(path), obj(obj), parent(parent) {}

  /// Whether the key is present and not null.
  bool has(llvm::StringRef key) const { return lookup(key) != nullptr; }

  llvm::Error integer(llvm::StringRef key, int64_t &out,
                      bool required = false) const {
    const llvm::json::Value *v = lookup(key);
    if (!v)
      return required ? missing(key) : llvm::Error::success();
    std::optional<int64_t> i = v->getAsInteger();
    if (!i)
      return mistyped(key, "an integer", *v);
    out = *i;
    return llvm::Error::success();
  }

  llvm::Error number(llvm::StringRef key, double &out,
                     bool required = false) const {
    const llvm::json::Value *v = lookup(key);
    if (!v)
      return required ? missing(key) : llvm::Error::success();
    std::optional<double> d = v->getAsNumber();
    if (!d)
      return mistyped(key, "a number", *v);
    out = *d;
    return llvm::Error::success();
  }

  llvm::Error boolean(llvm::StringRef key, bool &out) const {
    const llvm::json::Value *v = lookup(key);
    if (!v)
      return llvm::Error::success();
    std::optional<bool> b = v->getAsBoolean();
    if (!b)
      return mistyped(key, "a boolean", *v);
    out = *b;
    return llvm::Error::success();
  }

  llvm::Error string(llvm::StringRef key, std::optional<llvm::StringRef> &out,
                     bool required = false) const {
    const llvm::json::Value *v = lookup(key);
    if (!v)
      return required ? missing(key) : llvm::Error::success();
    out = v->getAsString();
    return out ? llvm::Error::success() : mistyped(key, "a string", *v);
  }

  llvm::Error object(llvm::StringRef key,
                     const llvm::json::Object *&out) const {
    out = nullptr;
    const llvm::json::Value *v = lookup(key);
    if (!v)
      return llvm::Error::success();
    out = v->getAsObject();
    return out ? llvm::Error::success() : mistyped(key, "an object", *v);
  }

  /// bos/eos: an id, or a list of ids (the first is the one used).
  llvm::Error tokenId(llvm::StringRef key, int64_t &out) const {
    const llvm::json::Value *v = lookup(key);
    if (!v)
      return llvm::Error::success();
    const llvm::json::Value *first = v;
    if (const llvm::json::Array *list = v->getAsArray()) {
      if (list->empty())
        return mistyped(key, "a token id or a non-empty list of them", *v);
      first = &list->front();
    }
    std::optional<int64_t> i = first->getAsInteger();
    if (!i)
      return mistyped(key, "a token id or a list of them", *v);
    out = *i;
    return llvm::Error::success();
  }

private:
  const llvm::json::Value *lookup(llvm::StringRef key) const {
    const llvm::json::Value *v = obj.get(key);
    return v && v->kind() != llvm::json::Value::Null ? v : nullptr;
  }
  std::string qualified(llvm::StringRef key) const {
    return parent.empty() ? key.str() : (parent + "." + key).str();
  }
  llvm::Error missing(llvm::StringRef key) const {
    return fileError(path, "missing required key '{0}'", qualified(key));
  }
  llvm::Error mistyped(llvm::StringRef key, llvm::StringRef expected,
                       const llvm::json::Value &v) const {
    static const char *const kKinds[] = {"null",   "boolean", "number",
                                         "string", "array",   "object"};
    std::string text;
    llvm::raw_string_ostream os(text);
    os << v;
    if (text.size() > 40)
      text = text.substr(0, 37) + "...";
    return fileError(path, "key '{0}' must be {1}, got {2} {3}",
                     qualified(key), expected, kKinds[v.kind()], text);
  }

  llvm::StringRef path;
  const llvm::json::Object &obj;
  llvm::StringRef parent;
};

} // namespace lowbit

#endif // LOWBIT_FORMATS_JSONKEYS_H
