//===- GpuRopeKernel.cpp - Rotary position embedding on the GPU -----------===//
//
// Rotates pairs of values of every head in place by the angle
// position · θ^(−2i/D) (docs/gpu.md), as the CPU kernel does
// (ModelKernels.cpp, rope_HxD_θ_pairs and rope_HxD_θ_halves): pair i is
// (2i, 2i+1) in the adjacent-pairs layout and (i, i + D/2) in the halves
// one (Hugging Face's rotate_half); only that index mapping differs.
// - the frequencies powf(θ, i·(−2/D)) in f32, which the CPU computes with
//   libm at run time, are computed with the same libm here, when the kernel
//   is generated, into a table in global memory;
// - the angle is the f32 product of the f32 position and the frequency;
// - its sine and cosine are evaluated in double and rounded once to f32,
//   which rounds them correctly; glibc's sinf and cosf, the CPU kernel's,
//   are one ulp off that in about 1% of the angles (glibc 2.36, Llama-3's
//   frequencies), so the two kernels differ by one ulp there;
// - the rotation is the CPU's four products and two sums, unfused.
// One thread per pair.
//
//===----------------------------------------------------------------------===//
#include "GpuEmitter.h"

#include "lowbit/Codegen/Kernels.h"

#include <cmath>
#include <string>
#include <utility>

using namespace mlir;

namespace lowbit {

namespace {
constexpr int64_t kThreads = 256;

// π/2 as the sum of three doubles: the reduction below stays exact to far
// below the angle's ulp for angles up to 2^31 (int32 positions).
constexpr double kHalfPi[3] = {0x1.921fb54442d18p+0, 0x1.1a62633145c07p-54,
                               -0x1.f1976b7ed8fbcp-110};

/// (sin a, cos a) of the f32 angle a, each rounded once to f32 from double.
std::pair<Value, Value> emitSinCos(GpuEmitter &e, Value angle) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  auto fma = [&](Value x, Value y, Value z) { return LLVM::FMAOp::create(b, loc, x, y, z); };
  Value a = arith::ExtFOp::create(b, loc, e.f64(), angle);
  // a = q·π/2 + r, |r| <= π/4 (a little more where a·2/π rounds across a
  // half); each fma subtracts one part of q·π/2 with one rounding.
  Value q = e.call("llvm.roundeven.f64", e.f64(),
                   {arith::MulFOp::create(b, loc, a, e.f64c(0x1.45f306dc9c883p-1))});
  Value negQ = arith::NegFOp::create(b, loc, q);
  Value r = a;
  for (double part : kHalfPi)
    r = fma(negQ, e.f64c(part), r);
  // The Taylor series of sin to r^15 and of cos to r^16: for |r| < 0.8 the
  // next terms are below 1e-16 of the results.
  double inverseFactorial[17] = {1};
  for (int i = 1; i <= 16; ++i)
    inverseFactorial[i] = inverseFactorial[i - 1] / i;
  Value r2 = arith::MulFOp::create(b, loc, r, r);
  Value sinPoly = e.f64c(-inverseFactorial[15]);
  for (int i = 13; i >= 3; i -= 2)
    sinPoly = fma(sinPoly, r2, e.f64c((i % 4 == 1 ? 1 : -1) * inverseFactorial[i]));
  Value sinR = fma(arith::MulFOp::create(b, loc, r, r2), sinPoly, r);
  Value cosPoly = e.f64c(inverseFactorial[16]);
  for (int i = 14; i >= 2; i -= 2)
    cosPoly = fma(cosPoly, r2, e.f64c((i % 4 == 0 ? 1 : -1) * inverseFactorial[i]));
  Value cosR = fma(r2, cosPoly, e.f64c(1.0));
  // The quadrant q mod 4: sin a = sin r, cos r, −sin r, −cos r and
  // cos a = cos r, −sin r, −cos r, sin r.
  Value quadrant = arith::FPToSIOp::create(b, loc, e.i64(), q);
  auto bitSet = [&](Value v, int64_t bit) {
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne,
                                 arith::AndIOp::create(b, loc, v, e.i64c(bit)), e.i64c(0));
  };
  Value odd = bitSet(quadrant, 1);
  Value sinV = arith::SelectOp::create(b, loc, odd, cosR, sinR);
  Value cosV = arith::SelectOp::create(b, loc, odd, sinR, cosR);
  auto negateIf = [&](Value cond, Value v) {
    return arith::SelectOp::create(b, loc, cond, arith::NegFOp::create(b, loc, v), v);
  };
  sinV = negateIf(bitSet(quadrant, 2), sinV);
  cosV = negateIf(bitSet(e.add(quadrant, 1), 2), cosV);
  return {arith::TruncFOp::create(b, loc, e.f32(), sinV),
          arith::TruncFOp::create(b, loc, e.f32(), cosV)};
}
} // namespace

GpuKernelLaunch emitGpuRope(gpu::GPUModuleOp module, const GpuKernelSpec &spec) {
  const int64_t heads = spec.n, headDim = spec.k, pairs = headDim / 2;
  const int64_t perToken = heads * pairs, total = spec.batch * perToken;
  const float theta = spec.param;
  const bool halves = spec.ropeHalves;
  GpuKernelLaunch launch = gpuItemLaunch(spec, total, kThreads);

  // θ^(−2i/D) with the CPU kernel's f32 exponent and powf (std::pow of two
  // floats).
  SmallVector<float> freqs;
  for (int64_t i = 0; i < pairs; ++i)
    freqs.push_back(std::pow(theta, float(i) * (-2.0f / float(headDim))));
  OpBuilder mb(module.getContext());
  mb.setInsertionPointToStart(module.getBody());
  std::string tableName = launch.name + "_freqs";
  auto tableType = RankedTensorType::get({pairs}, mb.getF32Type());
  LLVM::GlobalOp::create(mb, module.getLoc(), LLVM::LLVMArrayType::get(mb.getF32Type(), pairs),
                         /*isConstant=*/true, LLVM::Linkage::Internal, tableName,
                         DenseElementsAttr::get(tableType, ArrayRef<float>(freqs)),
                         /*alignment=*/4, /*addrSpace=*/1);

  GpuEmitter e(module, launch.name, 2, int32_t(kThreads));
  OpBuilder &b = e.b;
  Location loc = e.loc;
  Value x = e.arg(0), positions = e.arg(1);
  VectorType v2f32 = VectorType::get({2}, e.f32());

  e.forEachItem(total, kThreads, [&](Value pair) {
    Value token = arith::DivUIOp::create(b, loc, pair, e.i64c(perToken));
    Value inToken = arith::RemUIOp::create(b, loc, pair, e.i64c(perToken));
    Value head = arith::DivUIOp::create(b, loc, inToken, e.i64c(pairs));
    Value i = arith::RemUIOp::create(b, loc, inToken, e.i64c(pairs));
    Value position = e.load(e.i32(), positions, e.mul(token, 4), 4);
    Value table = LLVM::AddressOfOp::create(b, loc, e.globalPtr(), tableName);
    Value angle =
        arith::MulFOp::create(b, loc, arith::SIToFPOp::create(b, loc, e.f32(), position),
                              e.load(e.f32(), table, e.mul(i, 4), 4));
    auto [sin, cos] = emitSinCos(e, angle);
    // Pair i's first value: value 2i of its head, or value i in halves.
    Value offA = e.add(e.mul(token, activationRowBytes(heads * headDim)),
                       e.add(e.mul(head, headDim * 4), e.mul(i, halves ? 4 : 8)));
    // Adjacent pairs are one 8-byte access; the halves' two values lie D/2
    // apart, each a 4-byte access (consecutive threads' still coalesce).
    Value xa, xb, offB;
    if (halves) {
      offB = e.add(offA, pairs * 4);
      xa = e.load(e.f32(), x, offA, 4);
      xb = e.load(e.f32(), x, offB, 4);
    } else {
      Value v = e.load(v2f32, x, offA, 8);
      xa = e.element(v, 0);
      xb = e.element(v, 1);
    }
    auto mul = [&](Value p, Value q) { return arith::MulFOp::create(b, loc, p, q); };
    Value ya = arith::SubFOp::create(b, loc, mul(xa, cos), mul(xb, sin));
    Value yb = arith::AddFOp::create(b, loc, mul(xa, sin), mul(xb, cos));
    if (halves) {
      e.store(ya, x, offA, 4);
      e.store(yb, x, offB, 4);
    } else {
      e.store(e.vector({ya, yb}), x, offA, 8);
    }
  });
  return launch;
}

} // namespace lowbit
