#pragma once
// The processes of an MPI job (mpirun -np R, srun): the one place of glassy that talks MPI
// (apps/ensemble.cpp). Library code stays MPI-free: it computes sample k from (seed, k) alone
// (physics/quench.hpp); an app uses this layer to decide which samples its rank runs and to
// gather what the ranks measured on rank 0, which writes the one record (docs/cluster.md).
#include "dynamics/checkpoint.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace glassy::app {

/// A rank's part of `items` consecutive items: `count` of them from index `first` (relative to
/// the first item).
struct share {
    int first = 0;
    int count = 0;
};

/// Cuts `items` consecutive items into `ranks` blocks, in rank order, so that rank order is
/// item order: every rank gets items / ranks of them, and the first items % ranks ranks one more
/// (rank 0 has a largest block, so its progress line ends last). Preconditions: 0 <= rank <
/// ranks, items >= 0.
[[nodiscard]] inline share share_of(int rank, int ranks, int items) {
    const int base = items / ranks, extra = items % ranks;
    return {rank * base + (rank < extra ? rank : extra), base + (rank < extra ? 1 : 0)};
}

/// How many ranks an MPI launcher started this process among, as its environment says
/// (OMPI_COMM_WORLD_SIZE from OpenMPI, PMI_SIZE from MPICH/Hydra or srun --mpi=pmi2); 1 when
/// none does. Needs no MPI: the tools that do not share work among ranks (net_quench,
/// aging_analysis) refuse to run as one of several, where every rank would write the same output.
[[nodiscard]] inline int launched_ranks() {
    for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"})
        if (const char* value = std::getenv(name); value != nullptr && std::atoi(value) > 1) return std::atoi(value);
    return 1;
}

/// The refusal of a tool that runs as one process only, started as one of `ranks` MPI ranks.
[[nodiscard]] inline std::string one_process_only(const std::string& tool, int ranks) {
    return tool + ": error: started as one of " + std::to_string(ranks) + " MPI ranks, but " + tool +
           " does not share work among ranks (docs/cluster.md): run it without mpirun";
}

/// How many processes wrote the checkpoint a job resumes as `name` (ensemble::own_file): 1 when
/// the file `name` exists, K when NAME.rank0ofK does (the smallest such K), 0 when neither does.
/// Every rank sees the same files, so every rank of a job reaches the same answer.
[[nodiscard]] inline int checkpoint_ranks(const std::string& name) {
    if (std::filesystem::exists(name)) return 1;
    const std::filesystem::path path(name);
    const std::string prefix = path.filename().string() + ".rank0of";
    const auto dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
    int found = 0;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
        const std::string file = entry.path().filename().string();
        if (file.rfind(prefix, 0) != 0) continue;
        const std::string count = file.substr(prefix.size());
        if (count.empty() || count.find_first_not_of("0123456789") != std::string::npos || count.size() > 6) continue;
        const int k = std::atoi(count.c_str());
        if (k > 1 && (found == 0 || k < found)) found = k;
    }
    return found;
}

/// The job this process belongs to. MPI is started (MPI_Init) only when the process runs under
/// an MPI launcher, seen in its environment (OMPI_COMM_WORLD_SIZE from OpenMPI's mpirun or srun,
/// PMI_SIZE from MPICH/Hydra or srun --mpi=pmi2, PMIX_RANK from srun --mpi=pmix): otherwise, or
/// when glassy was built without MPI (GLASSY_WITH_MPI=OFF), the job is this one process, rank 0
/// of 1, and nothing here calls MPI. On ranks other than 0, stdout and stderr go to /dev/null
/// (every rank parses the same flags, so rank 0 alone reports bad input and progress); fail()
/// still reaches the terminal.
class ensemble {
public:
    /// Starts MPI when launched by an MPI launcher (see the class comment). Throws error when it
    /// is, but glassy was built without MPI: every rank would run the whole job.
    ensemble(int& argc, char**& argv);
    ~ensemble(); ///< MPI_Finalize, when MPI was started
    ensemble(const ensemble&) = delete;
    ensemble& operator=(const ensemble&) = delete;

    [[nodiscard]] int rank() const noexcept { return m_rank; }
    [[nodiscard]] int size() const noexcept { return m_size; }
    [[nodiscard]] bool root() const noexcept { return m_rank == 0; }
    /// True when MPI was started (the process runs under a launcher, even with one rank).
    [[nodiscard]] bool mpi() const noexcept { return m_mpi; }

    /// Collective: every rank passes its bytes; rank 0 gets the bytes of all ranks in rank
    /// order, the other ranks an empty vector. Throws error for a part of 2 GiB or more (one MPI
    /// message).
    [[nodiscard]] std::vector<std::string> gather(const std::string& bytes) const;

    /// Collective: every rank gets rank 0's `value`.
    [[nodiscard]] bool from_root(bool value) const;

    /// This rank's file for a job-wide file name (a checkpoint): `name` itself for a job of one
    /// process, else NAME.rank<r>of<R>, so that a job resumes only with the rank count it had.
    [[nodiscard]] std::string own_file(const std::string& name) const {
        return m_size == 1 ? name : name + ".rank" + std::to_string(m_rank) + "of" + std::to_string(m_size);
    }

    /// The checkpoint --resume NAME names for this rank (own_file: NAME itself for one process).
    /// Throws parameter_error, alike on every rank (rank 0 alone prints it: one line), when NAME
    /// was written by another number of processes (checkpoint_ranks), saying how to resume it;
    /// with several ranks, a rank that cannot read its own file ends the job naming it (fail).
    /// `tool` names the tool in that message.
    [[nodiscard]] checkpoint read_own_checkpoint(const std::string& tool, const std::string& name) const;

    /// Collective, at the end of a job of several ranks: rank 0 says whether its record is
    /// `complete` (the other ranks' value is not read), and then each rank removes its spent
    /// checkpoint `own`. Does nothing for a job of one process (app::finish_run removes it).
    void remove_when_complete(bool complete, const std::filesystem::path& own) const;

    /// Ends the whole job after an error on this rank: "TOOL: error (rank r of R): MESSAGE" on
    /// the terminal, then MPI_Abort (the other ranks may wait in gather) or, without MPI, exit.
    [[noreturn]] void fail(const std::string& tool, const std::string& message, int code) const;

private:
    int m_rank = 0;
    int m_size = 1;
    bool m_mpi = false;
    std::FILE* m_terminal = stderr; // the original stderr, kept on ranks other than 0
};

} // namespace glassy::app
