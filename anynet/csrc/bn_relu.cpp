#include <torch/extension.h>
#include <ATen/Parallel.h>
#include <vector>

// Fused BatchNorm (batch statistics) + optional ReLU for channels_last float32 tensors on the CPU.
// x [N, C, H, W] in channels_last is a contiguous [M, C] matrix (M = N*H*W): every pass walks rows and
// vectorizes over channels; statistics accumulate in float per 256 rows, then in double per thread.
// Forward: one pass for the moments, one to normalize; backward: one pass for the sums, one for dx.
// forward: x, weight, bias -> y, batch mean, biased batch var, invstd.
static void check(const at::Tensor& t, const char* name) {
  TORCH_CHECK(t.device().is_cpu() && t.scalar_type() == at::kFloat, name, " must be a float32 CPU tensor");
  TORCH_CHECK(t.dim() != 4 || t.is_contiguous(at::MemoryFormat::ChannelsLast), name, " must be channels_last");
  TORCH_CHECK(t.dim() == 4 || t.is_contiguous(), name, " must be contiguous");
}

std::vector<at::Tensor> forward(at::Tensor x, at::Tensor weight, at::Tensor bias, double eps, bool relu) {
  check(x, "x"); check(weight, "weight"); check(bias, "bias");
  TORCH_CHECK(x.dim() == 4 && weight.numel() == x.size(1) && bias.numel() == x.size(1), "shape mismatch");
  const int64_t C = x.size(1), M = x.numel() / C;
  const float* xp = x.data_ptr<float>();
  const float* wp = weight.data_ptr<float>();
  const float* bp = bias.data_ptr<float>();
  auto y = at::empty_like(x);
  float* yp = y.data_ptr<float>();
  // One pass for both moments, shifted by the first row so the sums stay well-conditioned.
  const int nt = at::get_num_threads();
  std::vector<float> shift0(xp, xp + C);
  std::vector<double> part(nt * C, 0.0), part2(nt * C, 0.0);
  const int64_t grain = std::max<int64_t>(1, 65536 / C);
  at::parallel_for(0, M, grain, [&](int64_t b, int64_t e) {
    double* acc = &part[at::get_thread_num() * C];
    double* acc2 = &part2[at::get_thread_num() * C];
    std::vector<float> s(C, 0.f), s2(C, 0.f);
    for (int64_t r = b; r < e; ++r) {
      const float* row = xp + r * C;
      for (int64_t c = 0; c < C; ++c) { float d = row[c] - shift0[c]; s[c] += d; s2[c] += d * d; }
      if (((r - b) & 255) == 255) {
        for (int64_t c = 0; c < C; ++c) { acc[c] += s[c]; acc2[c] += s2[c]; s[c] = 0.f; s2[c] = 0.f; }
      }
    }
    for (int64_t c = 0; c < C; ++c) { acc[c] += s[c]; acc2[c] += s2[c]; }
  });
  auto mean_t = at::empty({C}, x.options()), var_t = at::empty({C}, x.options()), invstd_t = at::empty({C}, x.options());
  float *mp = mean_t.data_ptr<float>(), *vp = var_t.data_ptr<float>(), *ip = invstd_t.data_ptr<float>();
  std::vector<float> scale(C), shift(C);
  for (int64_t c = 0; c < C; ++c) {
    double t = 0, t2 = 0;
    for (int i = 0; i < nt; ++i) { t += part[i * C + c]; t2 += part2[i * C + c]; }
    const double d = t / M, var = std::max(0.0, t2 / M - d * d);
    mp[c] = shift0[c] + d; vp[c] = var; ip[c] = 1.0 / std::sqrt(var + eps);
    scale[c] = wp[c] * ip[c]; shift[c] = bp[c] - mp[c] * scale[c];
  }
  at::parallel_for(0, M, grain, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* row = xp + r * C; float* out = yp + r * C;
      if (relu) { for (int64_t c = 0; c < C; ++c) { float v = row[c] * scale[c] + shift[c]; out[c] = v > 0.f ? v : 0.f; } }
      else { for (int64_t c = 0; c < C; ++c) out[c] = row[c] * scale[c] + shift[c]; }
    }
  });
  return {y, mean_t, var_t, invstd_t};
}

// backward: the gradient of y (masked by y > 0 when relu), with x, y and the saved statistics -> dx, dweight, dbias.
std::vector<at::Tensor> backward(at::Tensor dy, at::Tensor x, at::Tensor y, at::Tensor mean_t, at::Tensor invstd_t,
                                 at::Tensor weight, bool relu) {
  check(dy, "dy"); check(x, "x"); check(y, "y"); check(mean_t, "mean"); check(invstd_t, "invstd"); check(weight, "weight");
  const int64_t C = x.size(1), M = x.numel() / C;
  const float *dyp = dy.data_ptr<float>(), *xp = x.data_ptr<float>(), *yp = y.data_ptr<float>();
  const float *mp = mean_t.data_ptr<float>(), *ip = invstd_t.data_ptr<float>(), *wp = weight.data_ptr<float>();
  const int nt = at::get_num_threads();
  std::vector<double> pg(nt * C, 0.0), pgx(nt * C, 0.0);
  const int64_t grain = std::max<int64_t>(1, 65536 / C);
  at::parallel_for(0, M, grain, [&](int64_t b, int64_t e) {
    double* ag = &pg[at::get_thread_num() * C]; double* agx = &pgx[at::get_thread_num() * C];
    std::vector<float> sg(C, 0.f), sgx(C, 0.f);
    for (int64_t r = b; r < e; ++r) {
      const float *g = dyp + r * C, *xr = xp + r * C, *yr = yp + r * C;
      for (int64_t c = 0; c < C; ++c) {
        float gv = (!relu || yr[c] > 0.f) ? g[c] : 0.f;
        sg[c] += gv; sgx[c] += gv * (xr[c] - mp[c]);
      }
      if (((r - b) & 255) == 255) { for (int64_t c = 0; c < C; ++c) { ag[c] += sg[c]; agx[c] += sgx[c]; sg[c] = 0.f; sgx[c] = 0.f; } }
    }
    for (int64_t c = 0; c < C; ++c) { ag[c] += sg[c]; agx[c] += sgx[c]; }
  });
  auto dw = at::empty({C}, x.options()), db = at::empty({C}, x.options());
  float *dwp = dw.data_ptr<float>(), *dbp = db.data_ptr<float>();
  std::vector<float> k_dy(C), k_x(C), k_0(C);
  for (int64_t c = 0; c < C; ++c) {
    double g = 0, gx = 0; for (int i = 0; i < nt; ++i) { g += pg[i * C + c]; gx += pgx[i * C + c]; }
    dbp[c] = g; dwp[c] = gx * ip[c];
    float scale = wp[c] * ip[c];
    // dx = scale * (g - sum_g/M - (x - mean) * invstd^2 * sum_gx / M)
    k_dy[c] = scale;
    k_x[c] = -scale * ip[c] * ip[c] * gx / M;
    k_0[c] = -scale * g / M - k_x[c] * mp[c];
  }
  auto dx = at::empty_like(x);
  float* dxp = dx.data_ptr<float>();
  at::parallel_for(0, M, grain, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float *g = dyp + r * C, *xr = xp + r * C, *yr = yp + r * C; float* o = dxp + r * C;
      for (int64_t c = 0; c < C; ++c) {
        float gv = (!relu || yr[c] > 0.f) ? g[c] : 0.f;
        o[c] = gv * k_dy[c] + xr[c] * k_x[c] + k_0[c];
      }
    }
  });
  return {dx, dw, db};
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("forward", &forward);
  m.def("backward", &backward);
}
