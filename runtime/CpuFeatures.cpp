//===- CpuFeatures.cpp - cpuid and xgetbv ---------------------------------===//
//
// Checked before an artifact's code is loaded, so a kernel built for a wider
// ISA fails with a message instead of SIGILL.
//
//===----------------------------------------------------------------------===//
#include "CpuFeatures.h"

#include <cstdint>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

using namespace lowbit::rt;

namespace {

struct Registers {
  uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
};

enum Reg { EAX, EBX, ECX, EDX };

/// Which register state the OS saves: AVX needs XMM|YMM, AVX-512 also the
/// opmask and both ZMM halves.
enum class OsState { None, Avx, Avx512 };

struct Feature {
  const char *name;
  uint32_t leaf, subleaf;
  Reg reg;
  int bit;
  OsState os;
};

constexpr Feature kFeatures[] = {
    {"sse3", 1, 0, ECX, 0, OsState::None},
    {"pclmul", 1, 0, ECX, 1, OsState::None},
    {"ssse3", 1, 0, ECX, 9, OsState::None},
    {"fma", 1, 0, ECX, 12, OsState::Avx},
    {"cx16", 1, 0, ECX, 13, OsState::None},
    {"sse4.1", 1, 0, ECX, 19, OsState::None},
    {"sse4.2", 1, 0, ECX, 20, OsState::None},
    {"movbe", 1, 0, ECX, 22, OsState::None},
    {"popcnt", 1, 0, ECX, 23, OsState::None},
    {"aes", 1, 0, ECX, 25, OsState::None},
    {"xsave", 1, 0, ECX, 26, OsState::None},
    {"avx", 1, 0, ECX, 28, OsState::Avx},
    {"f16c", 1, 0, ECX, 29, OsState::Avx},
    {"rdrnd", 1, 0, ECX, 30, OsState::None},
    {"sse", 1, 0, EDX, 25, OsState::None},
    {"sse2", 1, 0, EDX, 26, OsState::None},
    {"bmi", 7, 0, EBX, 3, OsState::None},
    {"avx2", 7, 0, EBX, 5, OsState::Avx},
    {"bmi2", 7, 0, EBX, 8, OsState::None},
    {"avx512f", 7, 0, EBX, 16, OsState::Avx512},
    {"avx512dq", 7, 0, EBX, 17, OsState::Avx512},
    {"adx", 7, 0, EBX, 19, OsState::None},
    {"avx512ifma", 7, 0, EBX, 21, OsState::Avx512},
    {"avx512cd", 7, 0, EBX, 28, OsState::Avx512},
    {"sha", 7, 0, EBX, 29, OsState::None},
    {"avx512bw", 7, 0, EBX, 30, OsState::Avx512},
    {"avx512vl", 7, 0, EBX, 31, OsState::Avx512},
    {"avx512vbmi", 7, 0, ECX, 1, OsState::Avx512},
    {"avx512vbmi2", 7, 0, ECX, 6, OsState::Avx512},
    {"gfni", 7, 0, ECX, 8, OsState::None},
    {"vaes", 7, 0, ECX, 9, OsState::Avx},
    {"vpclmulqdq", 7, 0, ECX, 10, OsState::Avx},
    {"avx512vnni", 7, 0, ECX, 11, OsState::Avx512},
    {"avx512bitalg", 7, 0, ECX, 12, OsState::Avx512},
    {"avx512vpopcntdq", 7, 0, ECX, 14, OsState::Avx512},
    {"avx512fp16", 7, 0, EDX, 23, OsState::Avx512},
    {"avxvnni", 7, 1, EAX, 4, OsState::Avx},
    {"avx512bf16", 7, 1, EAX, 5, OsState::Avx512},
    {"lzcnt", 0x80000001u, 0, ECX, 5, OsState::None},
    {"prfchw", 0x80000001u, 0, ECX, 8, OsState::None},
};

#if defined(__x86_64__) || defined(__i386__)
Registers cpuid(uint32_t leaf, uint32_t subleaf) {
  Registers r;
  uint32_t maxLeaf = __get_cpuid_max(leaf & 0x80000000u, nullptr);
  if (maxLeaf < leaf)
    return r;
  __cpuid_count(leaf, subleaf, r.eax, r.ebx, r.ecx, r.edx);
  return r;
}

uint64_t xgetbv0() {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (uint64_t(edx) << 32) | eax;
}

bool osSupports(OsState state) {
  if (state == OsState::None)
    return true;
  // OSXSAVE: the OS enabled XSAVE, so XCR0 can be read.
  if (!(cpuid(1, 0).ecx & (1u << 27)))
    return false;
  uint64_t xcr0 = xgetbv0();
  if ((xcr0 & 0x6) != 0x6)
    return false;
  return state == OsState::Avx || (xcr0 & 0xE0) == 0xE0;
}
#endif

} // namespace

CpuFeatureState lowbit::rt::cpuFeature(std::string_view name) {
  if (!name.empty() && name.front() == '+')
    name.remove_prefix(1);
  for (const Feature &f : kFeatures) {
    if (name != f.name)
      continue;
#if defined(__x86_64__) || defined(__i386__)
    Registers r = cpuid(f.leaf, f.subleaf);
    uint32_t value = f.reg == EAX ? r.eax : f.reg == EBX ? r.ebx
                   : f.reg == ECX ? r.ecx : r.edx;
    bool present = (value >> f.bit) & 1;
    return present && osSupports(f.os) ? CpuFeatureState::Present
                                       : CpuFeatureState::Missing;
#else
    return CpuFeatureState::Missing;
#endif
  }
  return CpuFeatureState::Unknown;
}
