#pragma once
/// @file A network "quench": train a freshly initialised network with SGD/SGLD at constant
/// learning rate and record loss, accuracy, Delta(t_w, t_w + t) and the SGD noise D(t_w)
/// (design.md section 3). Built from the common pieces: glassy::integrate, schedules,
/// two_time_recorder, and the record. net_quench maps its flags onto quench_options.
#include "dynamics/driver.hpp"
#include "dynamics/record.hpp"
#include "nets/datasets.hpp"
#include "nets/models.hpp"
#include "nets/noise.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace glassy::nets {

/// Every parameter of a network run. Times are SGD iterations.
struct quench_options {
    model_kind model = model_kind::smallnet; ///< architecture
    std::string dataset = "mnist";          ///< mnist, fashion-mnist, cifar10, cifar100, synthetic
    std::filesystem::path data_dir;         ///< root of the dataset folders (see load_dataset)
    std::int64_t hidden = 10000;            ///< toy width h
    std::int64_t batch = 100;               ///< minibatch size
    double lr = 0.1;                        ///< learning rate
    double momentum = 0.0;                  ///< heavy-ball momentum
    double temperature = 0.0;               ///< SGLD temperature T (0: SGD)
    std::int64_t steps = 5000;              ///< iterations
    std::uint64_t seed = 1;                 ///< initialisation, minibatches, SGLD noise, synthetic data
    std::string device = "cpu";             ///< cpu or cuda
    std::string dtype = "float32";          ///< float32 or float64
    std::int64_t noise_samples = 1024;      ///< |S| of eq. 4: the first noise_samples training samples
    noise_method noise = noise_method::batched; ///< how D is computed
    std::int64_t eval_samples = 2048;       ///< loss/accuracy on the first eval_samples of train and test
    int points_per_decade = 10;             ///< measurement times and lags per decade
    int tw_per_decade = 3;                  ///< waiting times per decade
    std::int64_t tw_first = 10;             ///< smallest waiting time
    std::vector<std::int64_t> tw_steps;     ///< explicit waiting times (overrides the defaults)
    std::vector<std::int64_t> lag_steps;    ///< explicit lags (overrides the defaults)
    bool save_snapshots = false;            ///< write /snapshots/tw and /snapshots/weights
    synthetic_options synthetic;            ///< sizes of the synthetic dataset (its seed is `seed`)
};

/// A prepared run: data loaded, model built, schedules fixed. Construct, inspect (sizes,
/// memory), then run() once.
class quench {
public:
    /// Loads data and builds everything. Throws parameter_error / glassy::error on bad options
    /// (unknown model or dataset, missing data, batch larger than the training set, cuda on a
    /// CPU-only build, ...).
    explicit quench(const quench_options& options);
    ~quench();
    quench(const quench&) = delete;
    quench& operator=(const quench&) = delete;

    /// Number of weights M.
    [[nodiscard]] std::int64_t num_parameters() const;
    /// Number of waiting times n_w.
    [[nodiscard]] std::size_t num_waiting_times() const;
    /// Memory held by the weight snapshots, n_w * M * 4 bytes.
    [[nodiscard]] std::uint64_t snapshot_bytes() const;
    /// Training-set size.
    [[nodiscard]] std::int64_t train_count() const;
    /// Minibatch loss of the last SGD step (for progress lines).
    [[nodiscard]] double last_loss() const;

    /// Runs the training and returns the complete record (system "net", method sgd or sgld).
    /// Throws divergence_error if the training loss becomes non-finite.
    [[nodiscard]] record run(const run_hooks& hooks = {});

private:
    struct impl;
    std::unique_ptr<impl> m_impl;
};

/// The parameters JSON written in the record: every option plus num_parameters, input_mean,
/// input_std, train_count, test_count.
[[nodiscard]] nlohmann::json quench_parameters(const quench_options& options, std::int64_t num_parameters,
                                               const channel_stats& stats, std::int64_t train_count,
                                               std::int64_t test_count);

/// A short note when LibTorch does not run on an optimised BLAS (empty when it does): checks
/// torch's build configuration for MKL and, for a "generic" BLAS, which library libblas.so.3
/// resolves to in this process (OpenBLAS, BLIS or MKL count as optimised). Timing-free.
[[nodiscard]] std::string blas_warning();

/// Whether this LibTorch build can use CUDA.
[[nodiscard]] bool cuda_available();

} // namespace glassy::nets
