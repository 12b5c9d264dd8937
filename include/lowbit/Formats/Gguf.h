//===- Gguf.h - GGUF v3 reader and writer -----------------------*- C++ -*-===//
//
// GGUF as llama.cpp reads and writes it (formats.md §2). The reader maps the
// file and validates every count, size and offset up front, so the metadata
// and TensorRefs it hands out can be used without further bounds checks.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_FORMATS_GGUF_H
#define LOWBIT_FORMATS_GGUF_H

#include "lowbit/Formats/TensorRef.h"

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace lowbit {

/// Metadata value type ids as stored in the file.
enum class GgufValueType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, Bool = 7,
  String = 8, Array = 9, U64 = 10, I64 = 11, F64 = 12,
};

/// Lowercase name of a value type ("u32", "string", ...), "?" when unknown.
llvm::StringRef ggufValueTypeName(GgufValueType type);

/// One metadata value. Scalars keep the exact GGUF type they were stored
/// with, because llama.cpp's getters are strict about it (a u32 written as
/// u64 is rejected). Arrays hold elements of `elemType`; nested arrays are
/// not supported (llama.cpp rejects them too).
struct GgufValue {
  GgufValueType type = GgufValueType::U32;
  GgufValueType elemType = GgufValueType::U8; // arrays only
  uint64_t uintValue = 0;   // U8, U16, U32, U64, Bool
  int64_t intValue = 0;     // I8, I16, I32, I64
  double floatValue = 0;    // F32 (exactly representable), F64
  std::string stringValue;  // String
  std::vector<GgufValue> elems; // Array

  static GgufValue u8(uint8_t v) { return unsignedOf(GgufValueType::U8, v); }
  static GgufValue u16(uint16_t v) { return unsignedOf(GgufValueType::U16, v); }
  static GgufValue u32(uint32_t v) { return unsignedOf(GgufValueType::U32, v); }
  static GgufValue u64(uint64_t v) { return unsignedOf(GgufValueType::U64, v); }
  static GgufValue i8(int8_t v) { return signedOf(GgufValueType::I8, v); }
  static GgufValue i16(int16_t v) { return signedOf(GgufValueType::I16, v); }
  static GgufValue i32(int32_t v) { return signedOf(GgufValueType::I32, v); }
  static GgufValue i64(int64_t v) { return signedOf(GgufValueType::I64, v); }
  static GgufValue f32(float v) { return floatOf(GgufValueType::F32, v); }
  static GgufValue f64(double v) { return floatOf(GgufValueType::F64, v); }
  static GgufValue boolean(bool v) { return unsignedOf(GgufValueType::Bool, v); }
  static GgufValue string(std::string v);
  /// Every element must have type `elemType` (checked by the writer).
  static GgufValue array(GgufValueType elemType, std::vector<GgufValue> elems);

  bool isArray() const { return type == GgufValueType::Array; }
  bool isInteger() const;
  bool isFloat() const {
    return type == GgufValueType::F32 || type == GgufValueType::F64;
  }
  /// The value of an integer scalar if it fits in [lo, hi].
  std::optional<int64_t> asInt(int64_t lo, int64_t hi) const;
  /// Short human-readable rendering (arrays are abbreviated), for messages
  /// and dumps.
  std::string str() const;

  bool operator==(const GgufValue &other) const;
  bool operator!=(const GgufValue &other) const { return !(*this == other); }

private:
  static GgufValue unsignedOf(GgufValueType t, uint64_t v);
  static GgufValue signedOf(GgufValueType t, int64_t v);
  static GgufValue floatOf(GgufValueType t, double v);
};

/// ggml_type id <-> DType. Covers F32, F16, BF16, F64, I8..I64 and the legacy
/// and K-quant block formats; IQ/ternary types have no DType.
std::optional<DType> dtypeFromGgml(uint32_t ggmlType);
std::optional<uint32_t> ggmlFromDType(DType type);
/// Upper-case ggml spelling ("Q4_K", "IQ2_XXS") of any known id, or "".
llvm::StringRef ggmlTypeName(uint32_t ggmlType);

/// A GGUF file (version 2 or 3) mapped read-only.
class GgufFile {
public:
  static llvm::Expected<std::unique_ptr<GgufFile>> open(llvm::StringRef path);
  /// Reads a file already in memory; errors name its buffer identifier.
  static llvm::Expected<std::unique_ptr<GgufFile>>
  open(std::unique_ptr<llvm::MemoryBuffer> buffer);

  llvm::StringRef path() const { return filePath; }
  uint32_t version() const { return fileVersion; }
  uint32_t alignment() const { return dataAlignment; }
  /// Absolute file offset of the tensor data blob.
  uint64_t dataOffset() const { return dataStart; }

  /// Key/value pairs in file order.
  const std::vector<std::pair<std::string, GgufValue>> &metadata() const {
    return kvs;
  }
  const GgufValue *find(llvm::StringRef key) const;

  // Typed getters. Errors name the file and the key: missing key, wrong
  // type, or a value that does not fit the requested type.
  llvm::Expected<std::string> getString(llvm::StringRef key) const;
  /// Any integer type whose value fits (the strict type check is the
  /// writer's business, reading is lenient).
  llvm::Expected<uint32_t> getU32(llvm::StringRef key) const;
  llvm::Expected<uint64_t> getU64(llvm::StringRef key) const;
  llvm::Expected<int64_t> getI64(llvm::StringRef key) const;
  /// F32 or F64.
  llvm::Expected<float> getF32(llvm::StringRef key) const;
  llvm::Expected<bool> getBool(llvm::StringRef key) const;
  llvm::Expected<std::vector<std::string>>
  getStringArray(llvm::StringRef key) const;
  /// Arrays of F32 or F64.
  llvm::Expected<std::vector<float>> getF32Array(llvm::StringRef key) const;
  /// Arrays of any integer type whose values all fit in i32.
  llvm::Expected<std::vector<int32_t>> getI32Array(llvm::StringRef key) const;

  /// Tensors in file order; shape is outermost first (reverse of ne) and
  /// data points into the mapping.
  llvm::ArrayRef<TensorRef> tensors() const { return tensorList; }
  const TensorRef *findTensor(llvm::StringRef name) const;
  /// ggml type id of a tensor, nullopt if there is no such tensor.
  std::optional<uint32_t> ggmlType(llvm::StringRef name) const;
  /// Absolute file offset of a tensor returned by this file.
  uint64_t fileOffset(const TensorRef &t) const;
  /// Whether the tensors point into a mapping of the file (not a copy).
  bool isMapped() const;

private:
  friend class GgufParser;
  llvm::Error typeError(llvm::StringRef key, const GgufValue &v,
                        llvm::StringRef expected) const;
  llvm::Expected<const GgufValue *> lookup(llvm::StringRef key) const;
  llvm::Expected<int64_t> getInt(llvm::StringRef key, int64_t lo, int64_t hi,
                                 llvm::StringRef typeName) const;

  std::string filePath;
  std::unique_ptr<llvm::MemoryBuffer> buffer;
  uint32_t fileVersion = 0;
  uint32_t dataAlignment = 32;
  uint64_t dataStart = 0;
  std::vector<std::pair<std::string, GgufValue>> kvs;
  llvm::StringMap<size_t> kvIndex;
  std::vector<TensorRef> tensorList;
  llvm::StringMap<size_t> tensorIndex;
};

/// Builds a GGUF v3 file and writes it in one go. Keys and tensors are written
/// in insertion order, tensor data in tensor order with padding after every
/// tensor, like both llama.cpp writers. Tensor bytes are either held (or
/// pointed to) from addTensor on, or deferred: asked for one tensor at a time
/// while the file is written, so a large model is never in memory whole (the
/// header with every offset only needs the byte sizes, which follow from type
/// and shape).
///
/// Invalid input (duplicate key or tensor name, a name over 63 bytes, a
/// shape/byte-size mismatch, a type GGUF cannot store) is remembered and
/// reported by write(), which then creates no file.
class GgufWriter {
public:
  void set(llvm::StringRef key, GgufValue value);
  void setU8(llvm::StringRef key, uint8_t v) { set(key, GgufValue::u8(v)); }
  void setI8(llvm::StringRef key, int8_t v) { set(key, GgufValue::i8(v)); }
  void setU16(llvm::StringRef key, uint16_t v) { set(key, GgufValue::u16(v)); }
  void setI16(llvm::StringRef key, int16_t v) { set(key, GgufValue::i16(v)); }
  void setU32(llvm::StringRef key, uint32_t v) { set(key, GgufValue::u32(v)); }
  void setI32(llvm::StringRef key, int32_t v) { set(key, GgufValue::i32(v)); }
  void setU64(llvm::StringRef key, uint64_t v) { set(key, GgufValue::u64(v)); }
  void setI64(llvm::StringRef key, int64_t v) { set(key, GgufValue::i64(v)); }
  void setF32(llvm::StringRef key, float v) { set(key, GgufValue::f32(v)); }
  void setF64(llvm::StringRef key, double v) { set(key, GgufValue::f64(v)); }
  void setBool(llvm::StringRef key, bool v) {
    set(key, GgufValue::boolean(v));
  }
  void setString(llvm::StringRef key, llvm::StringRef v) {
    set(key, GgufValue::string(v.str()));
  }
  void setArrayString(llvm::StringRef key, llvm::ArrayRef<std::string> v);
  void setArrayF32(llvm::StringRef key, llvm::ArrayRef<float> v);
  void setArrayI32(llvm::StringRef key, llvm::ArrayRef<int32_t> v);
  void setArrayU32(llvm::StringRef key, llvm::ArrayRef<uint32_t> v);

  /// Adds a tensor that owns its bytes. `shape` is outermost first.
  void addTensor(llvm::StringRef name, DType type,
                 llvm::ArrayRef<int64_t> shape, std::vector<uint8_t> bytes);
  /// Adds a tensor whose bytes must stay alive until write() returns.
  void addTensor(llvm::StringRef name, DType type,
                 llvm::ArrayRef<int64_t> shape, const uint8_t *data,
                 uint64_t size);
  /// Copies a tensor view (e.g. from another GgufFile) without its bytes.
  void addTensor(const TensorRef &t) {
    addTensor(t.name, t.dtype, t.shape, t.data, t.bytes);
  }
  /// Adds a tensor whose bytes write(path, source) asks `source` for.
  void addDeferredTensor(llvm::StringRef name, DType type,
                         llvm::ArrayRef<int64_t> shape);

  /// The bytes of deferred tensor `index` (its position among all tensors,
  /// in addTensor order), exactly as many as its type and shape take. They
  /// must stay valid until the next call. Called once per deferred tensor,
  /// in order.
  using TensorBytesSource =
      llvm::function_ref<llvm::Expected<llvm::ArrayRef<uint8_t>>(size_t index)>;

  bool hasKey(llvm::StringRef key) const { return keyIndex.count(key); }
  bool hasTensor(llvm::StringRef name) const { return nameIndex.count(name); }

  /// Writes the file atomically (nothing is left behind on failure). The
  /// first form needs every tensor's bytes at hand; the second takes those
  /// of deferred tensors from `source`, an error of which aborts the write.
  llvm::Error write(llvm::StringRef path) const;
  llvm::Error write(llvm::StringRef path, TensorBytesSource source) const;

private:
  struct Tensor {
    std::string name;
    DType type;
    std::vector<int64_t> shape;
    std::vector<uint8_t> owned;
    const uint8_t *data;
    uint64_t size;
    bool deferred = false;
  };
  /// The byte size of a valid tensor of this name, type and shape; otherwise
  /// records the problem and returns nothing.
  std::optional<uint64_t> checkTensor(llvm::StringRef name, DType type,
                                      llvm::ArrayRef<int64_t> shape);
  llvm::Error writeImpl(llvm::StringRef path,
                        std::optional<TensorBytesSource> source) const;
  std::vector<std::pair<std::string, GgufValue>> kvs;
  llvm::StringMap<size_t> keyIndex;
  std::vector<Tensor> tensorList;
  llvm::StringMap<size_t> nameIndex;
  std::vector<std::string> problems; // reported by write()
};

} // namespace lowbit

#endif // LOWBIT_FORMATS_GGUF_H
