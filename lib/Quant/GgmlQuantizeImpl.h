//===- GgmlQuantizeImpl.h - Shared pieces of the ggml quantizers -*- C++ -*-===//
//
// Private to lib/Formats. The scale-search routines are shared by the legacy
// (GgmlQuantize.cpp) and K-quant (GgmlQuantizeK.cpp) encoders. Every routine
// works in float and accumulates in the element order ggml uses; see the
// comments in GgmlQuantize.cpp.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_LIB_FORMATS_GGMLQUANTIZEIMPL_H
#define LOWBIT_LIB_FORMATS_GGMLQUANTIZEIMPL_H

#include <cstdint>
#include <cstring>

namespace lowbit {
namespace ggmlq {

/// Groups whose largest |value| (or scale) is below this count as all zero.
constexpr float kGroupMaxEps = 1e-15f;

/// ggml's nearest_int: adding 1.5 * 2^23 leaves round(x) (ties to even) in
/// the low mantissa bits. Exact for |x| <= 2^22; beyond that it returns the
/// same wrapped value ggml does.
inline int nearestInt(float x) {
  float v = x + 12582912.0f;
  int32_t bits;
  std::memcpy(&bits, &v, 4);
  return (bits & 0x007fffff) - 0x00400000;
}

/// Whether the AVX2 (+F16C) versions of the hot loops may run. They compute
/// the same IEEE operations as the portable code, in the same order per
/// value (no FMA), so the bytes do not depend on the answer.
bool useAvx2();

/// n <= 32 for all searches below.
///
/// Symmetric fit with codes in [-nmax, nmax-1], stored biased (+nmax) in L.
/// Weights are qw[i], or x[i]^2 when qw is null. Tries the 18 inverse scales
/// -(nmax + 0.1 t)/max_el and keeps the weighted least-squares optimum.
/// Returns the scale.
float makeQxQuants(int n, int nmax, const float *x, int8_t *L,
                   const float *qw);

/// Q3_K's symmetric fit with x^2 weights and up to 5 coordinate-descent
/// passes over the codes. L gets biased codes (+nmax), or 0 for an all-zero
/// group.
float makeQ3Quants(int n, int nmax, const float *x, int8_t *L);

/// Asymmetric (scale, min) fit with codes in [0, nmax], nstep+1 trial
/// inverse scales (nmax + rmin + rdelta*t) / (max - min). Returns the scale;
/// *theMin receives -min (>= 0).
float makeQkx2Quants(int n, int nmax, const float *x, const float *weights,
                     uint8_t *L, float *theMin, float rmin, float rdelta,
                     int nstep, bool useMad);

/// The variant of makeQkx2Quants the imatrix paths use (same search; only
/// the degenerate-range test differs).
float makeQkx3Quants(int n, int nmax, const float *x, const float *weights,
                     uint8_t *L, float *theMin, float rmin, float rdelta,
                     int nstep, bool useMad);

/// Quantizes non-negative values x (sub-block scales or mins) to codes in
/// [0, nmax] with weights qw. Returns the scale.
float makeQpQuants(int n, int nmax, const float *x, uint8_t *L,
                   const float *qw);

// K-quant row encoders (GgmlQuantizeK.cpp). `n` is a multiple of 256;
// `qw` is the importance vector or null.
void quantizeRowQ2K(const float *x, uint8_t *dst, int64_t n, const float *qw);
void quantizeRowQ3K(const float *x, uint8_t *dst, int64_t n, const float *qw);
void quantizeRowQ4K(const float *x, uint8_t *dst, int64_t n, const float *qw);
void quantizeRowQ5K(const float *x, uint8_t *dst, int64_t n, const float *qw);
void quantizeRowQ6K(const float *x, uint8_t *dst, int64_t n, const float *qw);

} // namespace ggmlq
} // namespace lowbit

#endif // LOWBIT_LIB_FORMATS_GGMLQUANTIZEIMPL_H
