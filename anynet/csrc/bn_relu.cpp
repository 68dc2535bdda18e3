#include <torch/extension.h>
#include <ATen/Parallel.h>
#include <cstring>
#include <vector>
#if defined(__SSE__)
#include <immintrin.h>
#endif

// Fused BatchNorm (batch statistics) + optional residual add + optional ReLU, for channels_last float32
// tensors on the CPU. x [N, C, H, W] in channels_last is a contiguous [M, C] matrix (M = N*H*W): every pass
// walks rows and vectorizes over channels; sums accumulate in float per 256 rows, then in double per thread.
// Forward: one pass for the moments, one to normalize. Backward: one pass for the sums, one for dx; the ReLU
// mask is recomputed from x (or read from y when a residual was added), so y need not be kept. The passes are
// bound by memory bandwidth, so y and dx, which only a later layer reads, are written around the cache.
#define RESTRICT __restrict__

static void check(const at::Tensor& t, const char* name) {
  TORCH_CHECK(t.device().is_cpu() && t.scalar_type() == at::kFloat, name, " must be a float32 CPU tensor");
  TORCH_CHECK(t.dim() != 4 || t.is_contiguous(at::MemoryFormat::ChannelsLast), name, " must be channels_last");
  TORCH_CHECK(t.dim() == 4 || t.is_contiguous(), name, " must be contiguous");
}

// dst[0:n] = src[0:n] with non-temporal stores where the CPU and the alignment allow: a written line then skips
// the read-for-ownership a cached store costs. Callers end their parallel chunk with store_fence().
static inline void stream_store(float* RESTRICT dst, const float* RESTRICT src, int64_t n) {
#if defined(__AVX512F__)
  if (n % 16 == 0 && reinterpret_cast<uintptr_t>(dst) % 64 == 0) {
    for (int64_t i = 0; i < n; i += 16) _mm512_stream_ps(dst + i, _mm512_loadu_ps(src + i));
    return;
  }
#elif defined(__AVX__)
  if (n % 8 == 0 && reinterpret_cast<uintptr_t>(dst) % 32 == 0) {
    for (int64_t i = 0; i < n; i += 8) _mm256_stream_ps(dst + i, _mm256_loadu_ps(src + i));
    return;
  }
#endif
  std::memcpy(dst, src, n * sizeof(float));
}

static inline void store_fence() {
#if defined(__SSE__)
  _mm_sfence();
#endif
}

// One row of y = max(x * scale + shift [+ res], lo).
static inline void normalize_row(const float* RESTRICT x, const float* RESTRICT res, const float* RESTRICT scale,
                                 const float* RESTRICT shift, float lo, float* RESTRICT y, int64_t C) {
  if (res) {
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) { const float v = x[c] * scale[c] + shift[c] + res[c]; y[c] = v > lo ? v : lo; }
  } else {
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) { const float v = x[c] * scale[c] + shift[c]; y[c] = v > lo ? v : lo; }
  }
}

// Backward pass one, one row: the ReLU-masked gradient g, summed (f1) and summed times (x - mean) (f2).
// Mask from y (written out as dres) when a residual was added, else recomputed from x.
static inline void grad_sums_row(const float* RESTRICT dy, const float* RESTRICT x, const float* RESTRICT y,
                                 const float* RESTRICT scale, const float* RESTRICT shift, const float* RESTRICT mean,
                                 bool relu, float* RESTRICT dres, float* RESTRICT f1, float* RESTRICT f2, int64_t C) {
  if (y) {
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) {
      const float g = (!relu || y[c] > 0.f) ? dy[c] : 0.f;
      dres[c] = g; f1[c] += g; f2[c] += g * (x[c] - mean[c]);
    }
  } else {
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) {
      const float g = (!relu || x[c] * scale[c] + shift[c] > 0.f) ? dy[c] : 0.f;
      f1[c] += g; f2[c] += g * (x[c] - mean[c]);
    }
  }
}

// Backward pass two, one row: dx = g * a_dy + x * a_x + a_0, with g masked as in pass one unless given masked.
static inline void grad_input_row(const float* RESTRICT dy, const float* RESTRICT x, const float* RESTRICT scale,
                                  const float* RESTRICT shift, bool mask, const float* RESTRICT a_dy,
                                  const float* RESTRICT a_x, const float* RESTRICT a_0, float* RESTRICT dx, int64_t C) {
  if (mask) {
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) {
      const float g = x[c] * scale[c] + shift[c] > 0.f ? dy[c] : 0.f;
      dx[c] = g * a_dy[c] + x[c] * a_x[c] + a_0[c];
    }
  } else {
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) dx[c] = dy[c] * a_dy[c] + x[c] * a_x[c] + a_0[c];
  }
}

static int64_t grain_for(int64_t C) { return std::max<int64_t>(1, 65536 / C); }

// Per-channel sums of f(row, c) and g(row, c) over all M rows, in double.
template <typename Body>
static void column_sums(int64_t M, int64_t C, std::vector<double>& s1, std::vector<double>& s2, Body body) {
  const int nt = at::get_num_threads();
  std::vector<double> p1(nt * C, 0.0), p2(nt * C, 0.0);
  at::parallel_for(0, M, grain_for(C), [&](int64_t b, int64_t e) {
    double* RESTRICT a1 = &p1[at::get_thread_num() * C];
    double* RESTRICT a2 = &p2[at::get_thread_num() * C];
    std::vector<float> v1(C, 0.f), v2(C, 0.f);
    float* RESTRICT f1 = v1.data();
    float* RESTRICT f2 = v2.data();
    for (int64_t r0 = b; r0 < e; r0 += 256) {
      const int64_t r1 = std::min(e, r0 + 256);
      for (int64_t r = r0; r < r1; ++r) body(r, f1, f2);
      for (int64_t c = 0; c < C; ++c) { a1[c] += f1[c]; a2[c] += f2[c]; f1[c] = 0.f; f2[c] = 0.f; }
    }
  });
  s1.assign(C, 0.0); s2.assign(C, 0.0);
  for (int i = 0; i < nt; ++i)
    for (int64_t c = 0; c < C; ++c) { s1[c] += p1[i * C + c]; s2[c] += p2[i * C + c]; }
}

// forward: x, weight, bias, [residual] -> y = [relu](bn(x) [+ residual]), batch mean, biased batch var, invstd.
std::vector<at::Tensor> forward(at::Tensor x, at::Tensor weight, at::Tensor bias, c10::optional<at::Tensor> residual,
                                double eps, bool relu) {
  check(x, "x"); check(weight, "weight"); check(bias, "bias");
  TORCH_CHECK(x.dim() == 4 && weight.numel() == x.size(1) && bias.numel() == x.size(1), "shape mismatch");
  const bool add = residual.has_value();
  if (add) { check(*residual, "residual"); TORCH_CHECK(residual->sizes() == x.sizes(), "residual shape mismatch"); }
  const int64_t C = x.size(1), M = x.numel() / C;
  const float* RESTRICT xp = x.data_ptr<float>();
  const float* RESTRICT sp = add ? residual->data_ptr<float>() : nullptr;
  const float *wp = weight.data_ptr<float>(), *bp = bias.data_ptr<float>();
  // Both moments in one pass, shifted by the first row so the sums stay well-conditioned.
  std::vector<float> shift0(xp, xp + C);
  const float* RESTRICT k0 = shift0.data();
  std::vector<double> t1, t2;
  column_sums(M, C, t1, t2, [&](int64_t r, float* RESTRICT f1, float* RESTRICT f2) {
    const float* RESTRICT row = xp + r * C;
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) { float d = row[c] - k0[c]; f1[c] += d; f2[c] += d * d; }
  });
  auto mean_t = at::empty({C}, x.options()), var_t = at::empty({C}, x.options()), invstd_t = at::empty({C}, x.options());
  float *mp = mean_t.data_ptr<float>(), *vp = var_t.data_ptr<float>(), *ip = invstd_t.data_ptr<float>();
  std::vector<float> scale(C), shift(C);
  for (int64_t c = 0; c < C; ++c) {
    const double d = t1[c] / M, var = std::max(0.0, t2[c] / M - d * d);
    mp[c] = shift0[c] + d; vp[c] = var; ip[c] = 1.0 / std::sqrt(var + eps);
    scale[c] = wp[c] * ip[c]; shift[c] = bp[c] - mp[c] * scale[c];
  }
  auto y = at::empty_like(x);
  float* RESTRICT yp = y.data_ptr<float>();
  const float* RESTRICT ks = scale.data();
  const float* RESTRICT kb = shift.data();
  const float lo = relu ? 0.f : -INFINITY;
  at::parallel_for(0, M, grain_for(C), [&](int64_t b, int64_t e) {
    std::vector<float> row(C);
    for (int64_t r = b; r < e; ++r) {
      normalize_row(xp + r * C, add ? sp + r * C : nullptr, ks, kb, lo, row.data(), C);
      stream_store(yp + r * C, row.data(), C);
    }
    store_fence();
  });
  return {y, mean_t, var_t, invstd_t};
}

// backward: dy, x, y (needed only with a residual), saved statistics, weight, bias -> dx, dweight, dbias,
// [dresidual]. The ReLU mask is y > 0 with a residual, else x * scale + shift > 0 (the same value y had).
std::vector<at::Tensor> backward(at::Tensor dy, at::Tensor x, c10::optional<at::Tensor> y, at::Tensor mean_t,
                                 at::Tensor invstd_t, at::Tensor weight, at::Tensor bias, bool relu) {
  check(dy, "dy"); check(x, "x"); check(mean_t, "mean"); check(invstd_t, "invstd"); check(weight, "weight");
  const bool add = y.has_value();
  if (add) check(*y, "y");
  const int64_t C = x.size(1), M = x.numel() / C;
  const float* RESTRICT dyp = dy.data_ptr<float>();
  const float* RESTRICT xp = x.data_ptr<float>();
  const float* RESTRICT yp = add ? y->data_ptr<float>() : nullptr;
  const float *mp = mean_t.data_ptr<float>(), *ip = invstd_t.data_ptr<float>();
  const float *wp = weight.data_ptr<float>(), *bp = bias.data_ptr<float>();
  std::vector<float> scale(C), shift(C);
  for (int64_t c = 0; c < C; ++c) { scale[c] = wp[c] * ip[c]; shift[c] = bp[c] - mp[c] * scale[c]; }
  const float* RESTRICT ks = scale.data();
  const float* RESTRICT kb = shift.data();
  const float* RESTRICT km = mp;
  // With a residual, the first pass also writes the masked gradient: it is dresidual, and pass two reads it.
  at::Tensor dres = add ? at::empty_like(x) : at::Tensor();
  float* RESTRICT gp = add ? dres.data_ptr<float>() : nullptr;
  std::vector<double> sum_g, sum_gx;
  column_sums(M, C, sum_g, sum_gx, [&](int64_t r, float* RESTRICT f1, float* RESTRICT f2) {
    grad_sums_row(dyp + r * C, xp + r * C, add ? yp + r * C : nullptr, ks, kb, km, relu, add ? gp + r * C : nullptr,
                  f1, f2, C);
  });
  auto dw = at::empty({C}, x.options()), db = at::empty({C}, x.options());
  float *dwp = dw.data_ptr<float>(), *dbp = db.data_ptr<float>();
  std::vector<float> v_dy(C), v_x(C), v_0(C);
  for (int64_t c = 0; c < C; ++c) {
    dbp[c] = sum_g[c]; dwp[c] = sum_gx[c] * ip[c];
    // dx = scale * (g - sum_g/M - (x - mean) * invstd^2 * sum_gx / M)
    v_dy[c] = scale[c];
    v_x[c] = -scale[c] * ip[c] * ip[c] * sum_gx[c] / M;
    v_0[c] = -scale[c] * sum_g[c] / M - v_x[c] * mp[c];
  }
  const float* RESTRICT a_dy = v_dy.data();
  const float* RESTRICT a_x = v_x.data();
  const float* RESTRICT a_0 = v_0.data();
  auto dx = at::empty_like(x);
  float* RESTRICT dxp = dx.data_ptr<float>();
  at::parallel_for(0, M, grain_for(C), [&](int64_t b, int64_t e) {
    std::vector<float> row(C);
    for (int64_t r = b; r < e; ++r) {
      grad_input_row(add ? gp + r * C : dyp + r * C, xp + r * C, ks, kb, relu && !add, a_dy, a_x, a_0, row.data(), C);
      stream_store(dxp + r * C, row.data(), C);
    }
    store_fence();
  });
  if (add) return {dx, dw, db, dres};
  return {dx, dw, db};
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("forward", &forward);
  m.def("backward", &backward);
}
