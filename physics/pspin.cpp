#include "physics/pspin.hpp"

#include "dynamics/error.hpp"
#include "dynamics/fields.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <type_traits>

namespace glassy {
namespace {

// Colexicographic rank of a strictly increasing tuple: sum_m binom(c_m, m + 1).
std::uint64_t colex_rank(const int* c, int p) noexcept {
    std::uint64_t r = 0;
    for (int m = 0; m < p; ++m) r += binomial(static_cast<std::uint64_t>(c[m]), static_cast<std::uint64_t>(m + 1));
    return r;
}

// Advances c[0..p-2] (with c[p-1] fixed) to the next (p-1)-tuple below c[p-1] in colex order.
// Returns false after the last one.
bool next_colex(int* c, int p) noexcept {
    for (int m = 0; m + 1 < p; ++m) {
        if (c[m] + 1 < c[m + 1]) {
            ++c[m];
            for (int r = 0; r < m; ++r) c[r] = r;
            return true;
        }
    }
    return false;
}

constexpr int max_blocks = 64;

// One block of the batched p = 3 contraction: largest index k in [k0, k1), replicas packed
// [chunk][spin][w] (chunk stride N W). Adds the block's gradient sums G into g and the
// per-replica sums S into sb. Chunks run inside k, so the couplings of one k (k^2/2 doubles)
// stay in cache across chunks; per replica the sums are sequential in i (deterministic).
template <int W, class T>
[[gnu::always_inline]] inline void p3_batch_block_impl(const T* couplings, int k0, int k1, const double* s, int chunks,
                                                       std::size_t n, double* g, double* sb) {
    const std::size_t stride = n * W;
    for (int k = k0; k < k1; ++k) {
        const T* jk = couplings + binomial(static_cast<std::uint64_t>(k), 3);
        for (int c = 0; c < chunks; ++c) {
            const double* sc = s + stride * static_cast<std::size_t>(c);
            double* gb = g + stride * static_cast<std::size_t>(c);
            const double* sk = sc + static_cast<std::ptrdiff_t>(k) * W;
            double gk[W] = {};
            for (int j = 1; j < k; ++j) {
                const T* jj = jk + static_cast<std::ptrdiff_t>(j) * (j - 1) / 2;
                const double* sj = sc + static_cast<std::ptrdiff_t>(j) * W;
                // Four partial sums over i (i mod 4) break the dependency chain of t, so the
                // loop runs at FMA throughput rather than latency; combined in a fixed order.
                double a[W], t[W], t0[W] = {}, t1[W] = {}, t2[W] = {}, t3[W] = {};
                for (int w = 0; w < W; ++w) a[w] = sj[w] * sk[w];
                int i = 0;
                for (; i + 4 <= j; i += 4) {
                    const double j0 = static_cast<double>(jj[i]), j1 = static_cast<double>(jj[i + 1]);
                    const double j2 = static_cast<double>(jj[i + 2]), j3 = static_cast<double>(jj[i + 3]);
                    const double* si = sc + static_cast<std::ptrdiff_t>(i) * W;
                    double* gi = gb + static_cast<std::ptrdiff_t>(i) * W;
#pragma omp simd
                    for (int w = 0; w < W; ++w) {
                        t0[w] += j0 * si[w];
                        gi[w] += a[w] * j0;
                        t1[w] += j1 * si[W + w];
                        gi[W + w] += a[w] * j1;
                        t2[w] += j2 * si[2 * W + w];
                        gi[2 * W + w] += a[w] * j2;
                        t3[w] += j3 * si[3 * W + w];
                        gi[3 * W + w] += a[w] * j3;
                    }
                }
                for (; i < j; ++i) {
                    const double jv = static_cast<double>(jj[i]);
                    const double* si = sc + static_cast<std::ptrdiff_t>(i) * W;
                    double* gi = gb + static_cast<std::ptrdiff_t>(i) * W;
#pragma omp simd
                    for (int w = 0; w < W; ++w) {
                        t0[w] += jv * si[w];
                        gi[w] += a[w] * jv;
                    }
                }
                for (int w = 0; w < W; ++w) t[w] = (t0[w] + t1[w]) + (t2[w] + t3[w]);
                double* gj = gb + static_cast<std::ptrdiff_t>(j) * W;
                for (int w = 0; w < W; ++w) {
                    gj[w] += sk[w] * t[w];
                    gk[w] += sj[w] * t[w];
                }
            }
            double* gkk = gb + static_cast<std::ptrdiff_t>(k) * W;
            for (int w = 0; w < W; ++w) {
                gkk[w] += gk[w];
                sb[c * W + w] += sk[w] * gk[w];
            }
        }
    }
}

// The kernel is compute-bound, so it is compiled for several instruction sets and the widest
// the CPU supports is picked at load time (AVX-512, AVX2, baseline SSE2). pspin.cpp is compiled
// with -ffp-contract=off (physics/CMakeLists.txt): no clone fuses a multiply-add, so all clones
// give the same bits and results do not depend on the machine or the thread count.
#define GLASSY_P3_BATCH_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#define GLASSY_P3_BATCH_KERNEL(W, T, NAME)                                                                             \
    GLASSY_P3_BATCH_CLONES void NAME(const T* j, int k0, int k1, const double* s, int c, std::size_t n, double* g,     \
                                     double* sb) {                                                                     \
        p3_batch_block_impl<W, T>(j, k0, k1, s, c, n, g, sb);                                                          \
    }
GLASSY_P3_BATCH_KERNEL(2, double, p3_batch_block_w2)
GLASSY_P3_BATCH_KERNEL(4, double, p3_batch_block_w4)
GLASSY_P3_BATCH_KERNEL(8, double, p3_batch_block_w8)
GLASSY_P3_BATCH_KERNEL(2, float, p3_batch_block_w2f)
GLASSY_P3_BATCH_KERNEL(4, float, p3_batch_block_w4f)
GLASSY_P3_BATCH_KERNEL(8, float, p3_batch_block_w8f)
#undef GLASSY_P3_BATCH_KERNEL
#undef GLASSY_P3_BATCH_CLONES

// One block of the single-state p = 3 contraction: largest index k in [k0, k1). Adds the block's
// gradient sums G_i = sum over tuples containing i of J s_j s_k into gb (length N, zeroed by the
// caller) and returns the block's sum S = sum J s_i s_j s_k. Row by row (i < j), four lanes at a
// time with explicit vectors. The profile of the previous version (perf record,
// BM_pspin_gradient/256) showed a scalar SSE2 loop at 84 % of the time (GCC kept the scalar
// version of the `omp simd` loop): it was compute-bound, not bandwidth-bound, since at N = 256
// the 21 MiB of couplings stay in the 32 MiB L3. Taking two rows per pass (to halve the gb
// loads and stores) measured 3x slower than one row, and a second accumulator for t (to
// break the add-latency chain) gave nothing: at 0.8 ms per gradient on one thread the loop reads
// the couplings at about the L3 bandwidth (27 GB/s), so one row, one accumulator.
// Four lanes of doubles (GCC vector extension; the clones below lower it to AVX-512/AVX2/SSE2).
// aligned(8): loads and stores may be unaligned. The helpers are always inlined, so no vector
// crosses a call boundary (-Wno-psabi in physics/CMakeLists.txt).
typedef double v4d __attribute__((vector_size(32), aligned(8)));
typedef float v4f __attribute__((vector_size(16), aligned(4)));

[[gnu::always_inline]] inline v4d load4(const double* p) {
    v4d v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
[[gnu::always_inline]] inline v4d load4(const float* p) {
    v4f v;
    std::memcpy(&v, p, sizeof v);
    return __builtin_convertvector(v, v4d);
}
[[gnu::always_inline]] inline void store4(double* p, v4d v) { std::memcpy(p, &v, sizeof v); }
[[gnu::always_inline]] inline double hsum(v4d v) { return (v[0] + v[1]) + (v[2] + v[3]); }

template <class T>
[[gnu::always_inline]] inline double p3_block_impl(const T* couplings, int k0, int k1, const double* s, double* gb) {
    double sb = 0.0;
    for (int k = k0; k < k1; ++k) {
        const double sk = s[k];
        const T* jk = couplings + binomial(static_cast<std::uint64_t>(k), 3);
        double gk = 0.0;
        for (int j = 1; j < k; ++j) {
            const T* jj = jk + static_cast<std::ptrdiff_t>(j) * (j - 1) / 2;
            const double a = s[j] * sk;
            v4d tv = {0.0, 0.0, 0.0, 0.0};
            int i = 0;
            for (; i + 4 <= j; i += 4) {
                const v4d c = load4(jj + i);
                tv += c * load4(s + i);
                store4(gb + i, load4(gb + i) + a * c);
            }
            double t = hsum(tv);
            for (; i < j; ++i) {
                const double c = static_cast<double>(jj[i]);
                t += c * s[i];
                gb[i] += a * c;
            }
            gb[j] += sk * t;
            gk += s[j] * t;
        }
        gb[k] += gk;
        sb += sk * gk;
    }
    return sb;
}

#define GLASSY_P3_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
GLASSY_P3_CLONES double p3_block(const double* j, int k0, int k1, const double* s, double* gb) {
    return p3_block_impl<double>(j, k0, k1, s, gb);
}
GLASSY_P3_CLONES double p3_block(const float* j, int k0, int k1, const double* s, double* gb) {
    return p3_block_impl<float>(j, k0, k1, s, gb);
}
#undef GLASSY_P3_CLONES

template <int W, class T>
void p3_batch_block(const T* j, int k0, int k1, const double* s, int c, std::size_t n, double* g, double* sb) {
    if constexpr (std::is_same_v<T, double>) {
        if constexpr (W == 2) p3_batch_block_w2(j, k0, k1, s, c, n, g, sb);
        else if constexpr (W == 4) p3_batch_block_w4(j, k0, k1, s, c, n, g, sb);
        else p3_batch_block_w8(j, k0, k1, s, c, n, g, sb);
    } else {
        if constexpr (W == 2) p3_batch_block_w2f(j, k0, k1, s, c, n, g, sb);
        else if constexpr (W == 4) p3_batch_block_w4f(j, k0, k1, s, c, n, g, sb);
        else p3_batch_block_w8f(j, k0, k1, s, c, n, g, sb);
    }
}

} // namespace

std::uint64_t binomial(std::uint64_t n, std::uint64_t k) noexcept {
    if (k > n) return 0;
    k = std::min(k, n - k);
    std::uint64_t r = 1;
    for (std::uint64_t m = 1; m <= k; ++m) r = r * (n - k + m) / m;
    return r;
}

coupling_precision parse_coupling_precision(const std::string& name) {
    if (name == "float64") return coupling_precision::float64;
    if (name == "float32") return coupling_precision::float32;
    throw field_error("couplings", "must be float64 or float32 (got '" + name + "')");
}

std::string to_string(coupling_precision precision) {
    return precision == coupling_precision::float32 ? "float32" : "float64";
}

pspin_model::pspin_model(int n, int p, std::uint64_t seed, coupling_precision precision) : m_n(n), m_p(p) {
    if (p < 2) throw parameter_error("p-spin: p must be >= 2 (got " + std::to_string(p) + ")");
    if (n < p)
        throw parameter_error("p-spin: N must be >= p (got N = " + std::to_string(n) + ", p = " + std::to_string(p) +
                              ")");
    const std::uint64_t count = binomial(static_cast<std::uint64_t>(n), static_cast<std::uint64_t>(p));
    double factorial = 1;
    for (int m = 2; m <= p; ++m) factorial *= m;
    const double sd = std::sqrt(factorial / (2.0 * std::pow(static_cast<double>(n), p - 1)));
    m_count = count;
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal(0.0, sd);
    if (precision == coupling_precision::float32) {
        m_jf.resize(count);
        for (auto& j : m_jf) j = static_cast<float>(normal(rng));
    } else {
        m_j.resize(count);
        for (auto& j : m_j) j = normal(rng);
    }

    // Partition the largest index k into at most max_blocks blocks of about equal tuple count.
    // Blocks depend on (N, p) only, never on the thread count; small models use few blocks so
    // that the per-block buffers do not dominate.
    const int blocks = static_cast<int>(
        std::clamp<std::uint64_t>(count / 32768, 1, static_cast<std::uint64_t>(std::min(n, max_blocks))));
    m_block_start.push_back(0);
    for (int b = 1; b < blocks; ++b) {
        const double target = static_cast<double>(count) * b / blocks;
        int k = m_block_start.back() + 1;
        while (k < n &&
               static_cast<double>(binomial(static_cast<std::uint64_t>(k), static_cast<std::uint64_t>(p))) < target)
            ++k;
        if (k < n && k > m_block_start.back()) m_block_start.push_back(k);
    }
    m_block_start.push_back(n);
    m_partial.assign(m_block_start.size() - 1, state_type::Zero(n));
    m_binom.assign(static_cast<std::size_t>(p + 1) * static_cast<std::size_t>(n), 0);
    for (int m = 1; m <= p; ++m)
        for (int c = 0; c < n; ++c)
            m_binom[static_cast<std::size_t>(m) * static_cast<std::size_t>(n) + static_cast<std::size_t>(c)] =
                binomial(static_cast<std::uint64_t>(c), static_cast<std::uint64_t>(m));
}

std::uint64_t pspin_model::rank(const int* c) const noexcept {
    std::uint64_t r = 0;
    for (int m = 0; m < m_p; ++m)
        r += m_binom[static_cast<std::size_t>(m + 1) * static_cast<std::size_t>(m_n) + static_cast<std::size_t>(c[m])];
    return r;
}

double pspin_model::coupling(const std::vector<int>& sorted_indices) const {
    if (static_cast<int>(sorted_indices.size()) != m_p) throw parameter_error("p-spin: coupling needs p indices");
    for (std::size_t m = 0; m < sorted_indices.size(); ++m)
        if (sorted_indices[m] < 0 || sorted_indices[m] >= m_n || (m > 0 && sorted_indices[m] <= sorted_indices[m - 1]))
            throw parameter_error("p-spin: coupling indices must be strictly increasing in [0, N)");
    return jat(colex_rank(sorted_indices.data(), m_p));
}

double pspin_model::reduce_blocks(const std::vector<double>& sums, state_type& g) const {
    // Fixed order over the (N, p)-only partition: the result does not depend on the threads.
    g = m_partial[0];
    double total = sums[0];
    for (std::size_t b = 1; b < sums.size(); ++b) {
        g += m_partial[b];
        total += sums[b];
    }
    return total;
}

double pspin_model::raw_gradient_p3(const state_type& sigma, state_type& g) const {
    // One body for both storages; the double instance is the original float64 kernel.
    const auto run = [&](const auto* couplings) -> double {
        const int nb = static_cast<int>(m_block_start.size()) - 1;
        std::vector<double> sums(static_cast<std::size_t>(nb), 0.0);
        const double* s = sigma.data();
#pragma omp parallel for schedule(dynamic, 1) if (nb > 1)
        for (int b = 0; b < nb; ++b) {
            double* gb = m_partial[static_cast<std::size_t>(b)].data();
            std::fill(gb, gb + m_n, 0.0);
            const double sb = p3_block(couplings, m_block_start[static_cast<std::size_t>(b)],
                                       m_block_start[static_cast<std::size_t>(b) + 1], s, gb);
            sums[static_cast<std::size_t>(b)] = sb;
        }
        return reduce_blocks(sums, g);
    };
    return m_jf.empty() ? run(m_j.data()) : run(m_jf.data());
}

template <int W, class T>
void pspin_model::raw_gradient_p3_batch(const T* couplings, const double* s, int chunks, double* g,
                                        double* sums) const {
    // s and g: [chunk][spin][w], chunk stride N W. Per block b: m_partial_batch holds the block's
    // gradient (same layout) and its per-replica sums follow in the block's sums slot.
    const int nb = static_cast<int>(m_block_start.size()) - 1;
    const std::size_t stride = static_cast<std::size_t>(m_n) * W;
    const std::size_t per_block = stride * static_cast<std::size_t>(chunks);
    m_partial_batch.resize(per_block * static_cast<std::size_t>(nb));
    std::vector<double> block_sums(static_cast<std::size_t>(nb) * static_cast<std::size_t>(chunks) * W, 0.0);
#pragma omp parallel for schedule(dynamic, 1) if (nb > 1)
    for (int b = 0; b < nb; ++b) {
        double* gblock = m_partial_batch.data() + per_block * static_cast<std::size_t>(b);
        std::fill(gblock, gblock + per_block, 0.0);
        double* sb = block_sums.data() + static_cast<std::size_t>(b) * static_cast<std::size_t>(chunks) * W;
        p3_batch_block<W, T>(couplings, m_block_start[static_cast<std::size_t>(b)],
                             m_block_start[static_cast<std::size_t>(b) + 1], s, chunks, static_cast<std::size_t>(m_n),
                             gblock, sb);
    }
    // Fixed-order reduction over blocks: independent of the thread count.
    std::copy(m_partial_batch.begin(), m_partial_batch.begin() + static_cast<std::ptrdiff_t>(per_block), g);
    std::copy(block_sums.begin(), block_sums.begin() + static_cast<std::ptrdiff_t>(chunks) * W, sums);
    for (int b = 1; b < nb; ++b) {
        const double* gblock = m_partial_batch.data() + per_block * static_cast<std::size_t>(b);
        for (std::size_t x = 0; x < per_block; ++x) g[x] += gblock[x];
        for (int x = 0; x < chunks * W; ++x)
            sums[x] += block_sums[static_cast<std::size_t>(b) * static_cast<std::size_t>(chunks) * W +
                                  static_cast<std::size_t>(x)];
    }
}

Eigen::VectorXd pspin_model::gradient_batch(const Eigen::MatrixXd& sigma, Eigen::MatrixXd& g) const {
    if (sigma.rows() != m_n || sigma.cols() < 1)
        throw parameter_error("p-spin: gradient_batch needs an N x R configuration matrix with R >= 1");
    const int r = static_cast<int>(sigma.cols());
    Eigen::VectorXd energies(r);
    g.resize(m_n, r);
    if (m_p != 3 || r == 1) {
        state_type x, gr;
        for (int c = 0; c < r; ++c) {
            x = sigma.col(c);
            energies[c] = gradient(x, gr);
            g.col(c) = gr;
        }
        return energies;
    }
    // Chunk width: 2, 4 or 8 replicas; R is padded with zero spins (which contribute nothing).
    const int w = r <= 2 ? 2 : r <= 4 ? 4 : 8;
    const int chunks = (r + w - 1) / w;
    const std::size_t stride = static_cast<std::size_t>(m_n) * static_cast<std::size_t>(w);
    std::vector<double> packed(stride * static_cast<std::size_t>(chunks), 0.0), out(packed.size());
    std::vector<double> sums(static_cast<std::size_t>(chunks * w));
    for (int c = 0; c < r; ++c)
        for (int i = 0; i < m_n; ++i)
            packed[stride * static_cast<std::size_t>(c / w) +
                   static_cast<std::size_t>(i) * static_cast<std::size_t>(w) + static_cast<std::size_t>(c % w)] =
                sigma(i, c);
    const auto run = [&](const auto* couplings) {
        using T = std::remove_cv_t<std::remove_pointer_t<decltype(couplings)>>;
        if (w == 2) raw_gradient_p3_batch<2, T>(couplings, packed.data(), chunks, out.data(), sums.data());
        else if (w == 4) raw_gradient_p3_batch<4, T>(couplings, packed.data(), chunks, out.data(), sums.data());
        else raw_gradient_p3_batch<8, T>(couplings, packed.data(), chunks, out.data(), sums.data());
    };
    if (m_jf.empty()) run(m_j.data());
    else run(m_jf.data());
    for (int c = 0; c < r; ++c) {
        for (int i = 0; i < m_n; ++i)
            g(i, c) = -out[stride * static_cast<std::size_t>(c / w) +
                           static_cast<std::size_t>(i) * static_cast<std::size_t>(w) + static_cast<std::size_t>(c % w)];
        energies[c] = -sums[static_cast<std::size_t>(c)];
    }
    return energies;
}

double pspin_model::raw_gradient_generic(const state_type& sigma, state_type& g) const {
    const int nb = static_cast<int>(m_block_start.size()) - 1;
    const int p = m_p;
    std::vector<double> sums(static_cast<std::size_t>(nb), 0.0);
#pragma omp parallel for schedule(dynamic, 1) if (nb > 1)
    for (int b = 0; b < nb; ++b) {
        state_type& gb = m_partial[static_cast<std::size_t>(b)];
        gb.setZero();
        double sb = 0.0;
        std::vector<int> c(static_cast<std::size_t>(p));
        std::vector<double> prefix(static_cast<std::size_t>(p) + 1), suffix(static_cast<std::size_t>(p) + 1);
        for (int k = std::max(m_block_start[static_cast<std::size_t>(b)], p - 1);
             k < m_block_start[static_cast<std::size_t>(b) + 1]; ++k) {
            for (int m = 0; m + 1 < p; ++m) c[static_cast<std::size_t>(m)] = m;
            c[static_cast<std::size_t>(p - 1)] = k;
            std::uint64_t idx = binomial(static_cast<std::uint64_t>(k), static_cast<std::uint64_t>(p));
            do {
                const double jv = jat(idx++);
                prefix[0] = 1.0;
                for (int m = 0; m < p; ++m)
                    prefix[static_cast<std::size_t>(m) + 1] =
                        prefix[static_cast<std::size_t>(m)] * sigma[c[static_cast<std::size_t>(m)]];
                suffix[static_cast<std::size_t>(p)] = 1.0;
                for (int m = p - 1; m >= 0; --m)
                    suffix[static_cast<std::size_t>(m)] =
                        suffix[static_cast<std::size_t>(m) + 1] * sigma[c[static_cast<std::size_t>(m)]];
                for (int m = 0; m < p; ++m)
                    gb[c[static_cast<std::size_t>(m)]] +=
                        jv * prefix[static_cast<std::size_t>(m)] * suffix[static_cast<std::size_t>(m) + 1];
                sb += jv * prefix[static_cast<std::size_t>(p)];
            } while (next_colex(c.data(), p));
        }
        sums[static_cast<std::size_t>(b)] = sb;
    }
    return reduce_blocks(sums, g);
}

double pspin_model::raw_gradient(const state_type& sigma, state_type& g) const {
    if (sigma.size() != m_n) throw parameter_error("p-spin: configuration has the wrong size");
    return m_p == 3 ? raw_gradient_p3(sigma, g) : raw_gradient_generic(sigma, g);
}

double pspin_model::gradient(const state_type& sigma, state_type& g) const {
    const double s = raw_gradient(sigma, g);
    g = -g;
    return -s;
}

double pspin_model::energy(const state_type& sigma) const {
    state_type g;
    return -raw_gradient(sigma, g);
}

namespace {

// Column c of the p = 3 Hessian sum above the diagonal: col[a] += sum_b J_{abc} s_b for a < c
// (J symmetric in its indices, zero on repeated ones). Tuples whose largest index is c form the
// contiguous triangle (i < j) of the couplings at binom(c, 3); tuples (a, c, k) with c the middle
// index are runs of c couplings at binom(c, 2) + binom(k, 3). Each coupling is read twice per
// Hessian (once as a largest, once as a middle index), and every sum runs in a fixed order.
template <class T>
void p3_hessian_column(const T* couplings, int n, int c, const double* s, double* col) {
    const T* tri = couplings + binomial(static_cast<std::uint64_t>(c), 3);
    for (int j = 1; j < c; ++j) {
        const T* row = tri + static_cast<std::ptrdiff_t>(j) * (j - 1) / 2;
        const double sj = s[j];
        double t0 = 0, t1 = 0; // two partial sums over i (even, odd) break the add-latency chain
        int i = 0;
        for (; i + 2 <= j; i += 2) {
            const double j0 = static_cast<double>(row[i]), j1 = static_cast<double>(row[i + 1]);
            col[i] += j0 * sj;
            col[i + 1] += j1 * sj;
            t0 += j0 * s[i];
            t1 += j1 * s[i + 1];
        }
        if (i < j) {
            const double j0 = static_cast<double>(row[i]);
            col[i] += j0 * sj;
            t0 += j0 * s[i];
        }
        col[j] += t0 + t1;
    }
    const T* mid = couplings + binomial(static_cast<std::uint64_t>(c), 2);
    for (int k = c + 1; k < n; ++k) {
        const T* run = mid + binomial(static_cast<std::uint64_t>(k), 3);
        const double sk = s[k];
        for (int a = 0; a < c; ++a) col[a] += static_cast<double>(run[a]) * sk;
    }
}

} // namespace

Eigen::MatrixXd pspin_model::hessian_p3(const state_type& sigma) const {
    Eigen::MatrixXd h = Eigen::MatrixXd::Zero(m_n, m_n);
    const auto run = [&](const auto* couplings) {
    // Column c (above the diagonal) is one thread's: the bits do not depend on the thread count.
#pragma omp parallel for schedule(dynamic, 4) if (m_n > 64)
        for (int c = 1; c < m_n; ++c) p3_hessian_column(couplings, m_n, c, sigma.data(), h.col(c).data());
    };
    if (m_jf.empty()) run(m_j.data());
    else run(m_jf.data());
    h.triangularView<Eigen::StrictlyLower>() = h.transpose();
    return -h;
}

Eigen::MatrixXd pspin_model::hessian(const state_type& sigma) const {
    if (sigma.size() != m_n) throw parameter_error("p-spin: configuration has the wrong size");
    if (m_p == 3) return hessian_p3(sigma);
    Eigen::MatrixXd h = Eigen::MatrixXd::Zero(m_n, m_n);
    std::vector<int> c(static_cast<std::size_t>(m_p));
    std::uint64_t idx = 0;
    for (int k = m_p - 1; k < m_n; ++k) {
        for (int m = 0; m + 1 < m_p; ++m) c[static_cast<std::size_t>(m)] = m;
        c[static_cast<std::size_t>(m_p - 1)] = k;
        idx = binomial(static_cast<std::uint64_t>(k), static_cast<std::uint64_t>(m_p));
        do {
            const double jv = jat(idx++);
            for (int a = 0; a < m_p; ++a)
                for (int b = a + 1; b < m_p; ++b) {
                    double prod = jv;
                    for (int m = 0; m < m_p; ++m)
                        if (m != a && m != b) prod *= sigma[c[static_cast<std::size_t>(m)]];
                    h(c[static_cast<std::size_t>(a)], c[static_cast<std::size_t>(b)]) += prod;
                    h(c[static_cast<std::size_t>(b)], c[static_cast<std::size_t>(a)]) += prod;
                }
        } while (next_colex(c.data(), m_p));
    }
    return -h;
}

Eigen::MatrixXd pspin_model::tangent_hessian(const state_type& sigma) const {
    state_type g;
    gradient(sigma, g);
    const double n = static_cast<double>(m_n);
    const Eigen::MatrixXd proj = Eigen::MatrixXd::Identity(m_n, m_n) - sigma * sigma.transpose() / n;
    const double mu = sigma.dot(g) / n;
    return proj * (hessian(sigma) - mu * Eigen::MatrixXd::Identity(m_n, m_n)) * proj;
}

double pspin_model::local_sum(const state_type& sigma, int i, int j) const {
    return m_p == 3 ? local_sum_p3(sigma, i, j) : local_sum_generic(sigma, i, j);
}

double pspin_model::local_sum_p3(const state_type& sigma, int i, int j) const {
    const std::uint64_t* b2 = m_binom.data() + 2 * static_cast<std::size_t>(m_n);
    const std::uint64_t* b3 = m_binom.data() + 3 * static_cast<std::size_t>(m_n);
    auto j3 = [&](int x, int y, int z) { return jat(static_cast<std::size_t>(x) + b2[y] + b3[z]); };
    double total = 0.0;
    for (int pass = 0; pass < 2; ++pass) {
        const int f = pass == 0 ? i : j;
        double part = 0.0;
        for (int a = 0; a < m_n; ++a) {
            if (a == i || a == j) continue;
            const double sa = sigma[a];
            double row = 0.0;
            for (int b = a + 1; b < m_n; ++b) {
                if (b == i || b == j) continue;
                const double jv = f < a ? j3(f, a, b) : (f < b ? j3(a, f, b) : j3(a, b, f));
                row += jv * sigma[b];
            }
            part += sa * row;
        }
        total += sigma[f] * part;
    }
    // Tuples holding both i and j.
    const int lo = std::min(i, j), hi = std::max(i, j);
    double both = 0.0;
    for (int k = 0; k < m_n; ++k) {
        if (k == i || k == j) continue;
        const double jv = k < lo ? j3(k, lo, hi) : (k < hi ? j3(lo, k, hi) : j3(lo, hi, k));
        both += jv * sigma[k];
    }
    return total + sigma[i] * sigma[j] * both;
}

double pspin_model::local_sum_generic(const state_type& sigma, int i, int j) const {
    // Tuples containing i (any others), then tuples containing j but not i.
    double total = 0.0;
    std::vector<int> tuple(static_cast<std::size_t>(m_p));
    for (int pass = 0; pass < 2; ++pass) {
        const int fixed = pass == 0 ? i : j;
        // Enumerate (p-1)-subsets of [0, N) \ {i} (pass 0) or \ {i, j} (pass 1), via a
        // compressed index space of size N - 1 - pass.
        const int avail = m_n - 1 - pass;
        const int q = m_p - 1;
        if (avail < q) continue;
        std::vector<int> c(static_cast<std::size_t>(q));
        for (int m = 0; m < q; ++m) c[static_cast<std::size_t>(m)] = m;
        for (;;) {
            // Map compressed indices to real ones (skip i, and j in pass 1).
            const int lo = pass == 0 ? i : std::min(i, j);
            const int hi = pass == 0 ? m_n + 1 : std::max(i, j);
            double prod = sigma[fixed];
            int t = 0;
            bool placed = false;
            for (int m = 0; m < q; ++m) {
                int r = c[static_cast<std::size_t>(m)];
                if (r >= lo) ++r;
                if (r >= hi) ++r;
                prod *= sigma[r];
                if (!placed && fixed < r) {
                    tuple[static_cast<std::size_t>(t++)] = fixed;
                    placed = true;
                }
                tuple[static_cast<std::size_t>(t++)] = r;
            }
            if (!placed) tuple[static_cast<std::size_t>(t++)] = fixed;
            total += jat(rank(tuple.data())) * prod;
            // next combination of q out of avail (lexicographic)
            int m = q - 1;
            while (m >= 0 && c[static_cast<std::size_t>(m)] == avail - q + m) --m;
            if (m < 0) break;
            ++c[static_cast<std::size_t>(m)];
            for (int r = m + 1; r < q; ++r) c[static_cast<std::size_t>(r)] = c[static_cast<std::size_t>(r) - 1] + 1;
        }
    }
    return total;
}

double pspin_model::rotation_delta(const state_type& sigma, int i, int j, double c, double s) const {
    state_type moved = sigma;
    moved[i] = c * sigma[i] + s * sigma[j];
    moved[j] = -s * sigma[i] + c * sigma[j];
    return -(local_sum(moved, i, j) - local_sum(sigma, i, j));
}

} // namespace glassy
