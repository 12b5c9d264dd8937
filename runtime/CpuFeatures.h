//===- CpuFeatures.h - What the running CPU can execute ---------*- C++ -*-===//
#ifndef LOWBIT_RUNTIME_CPUFEATURES_H
#define LOWBIT_RUNTIME_CPUFEATURES_H

#include <string_view>

namespace lowbit {
namespace rt {

enum class CpuFeatureState { Present, Missing, Unknown };

/// Whether this CPU (and the OS, for AVX/AVX-512 register state) supports
/// the feature named as LLVM and cpuid name it: "avx2", "fma", "f16c",
/// "avx512f", "avx512vnni", "avx512bf16", ... A leading '+' is ignored.
CpuFeatureState cpuFeature(std::string_view name);

} // namespace rt
} // namespace lowbit

#endif // LOWBIT_RUNTIME_CPUFEATURES_H
