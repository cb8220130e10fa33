// The MPI layer of the apps (apps/ensemble.hpp). Built with GLASSY_HAVE_MPI when CMake found MPI
// (GLASSY_WITH_MPI); without it, every job is one process.
#include "apps/ensemble.hpp"

#include "dynamics/error.hpp"

#include <climits>
#include <cstdlib>

#include <fcntl.h>
#include <unistd.h>

#if GLASSY_HAVE_MPI
#include <mpi.h>
#endif

namespace glassy::app {
namespace {

// True when an MPI launcher started this process (ensemble's class comment).
bool under_mpi_launcher() {
    for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
        if (std::getenv(name) != nullptr) return true;
    return false;
}

// Points stdout and stderr at /dev/null; returns a stream on the original stderr.
[[maybe_unused]] std::FILE* silence_output() { // used with MPI only
    std::fflush(nullptr);
    const int kept = ::dup(STDERR_FILENO);
    const int null = ::open("/dev/null", O_WRONLY);
    if (null >= 0) {
        ::dup2(null, STDOUT_FILENO);
        ::dup2(null, STDERR_FILENO);
        ::close(null);
    }
    std::FILE* terminal = kept >= 0 ? ::fdopen(kept, "w") : nullptr;
    return terminal != nullptr ? terminal : stderr;
}

} // namespace

ensemble::ensemble([[maybe_unused]] int& argc, [[maybe_unused]] char**& argv) {
    if (!under_mpi_launcher()) return;
#if GLASSY_HAVE_MPI
    MPI_Init(&argc, &argv);
    m_mpi = true;
    MPI_Comm_rank(MPI_COMM_WORLD, &m_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &m_size);
    if (m_rank != 0) m_terminal = silence_output();
#else
    throw error("started by an MPI launcher, but built without MPI (GLASSY_WITH_MPI=OFF): run it without "
                "mpirun/srun, or build with mpi-default-dev installed");
#endif
}

ensemble::~ensemble() {
#if GLASSY_HAVE_MPI
    if (m_mpi) MPI_Finalize();
#endif
}

std::vector<std::string> ensemble::gather(const std::string& bytes) const {
    if (m_size == 1) return {bytes};
    if (bytes.size() > static_cast<std::size_t>(INT_MAX))
        throw error("rank " + std::to_string(m_rank) + " measured 2 GiB or more: too much for one MPI message");
    std::vector<std::string> all;
#if GLASSY_HAVE_MPI
    int count = static_cast<int>(bytes.size());
    std::vector<int> counts(static_cast<std::size_t>(root() ? m_size : 0));
    MPI_Gather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (!root()) {
        MPI_Send(bytes.data(), count, MPI_BYTE, 0, 0, MPI_COMM_WORLD);
        return all;
    }
    all.push_back(bytes);
    for (int r = 1; r < m_size; ++r) {
        std::string& part = all.emplace_back(static_cast<std::size_t>(counts[static_cast<std::size_t>(r)]), '\0');
        MPI_Recv(part.data(), counts[static_cast<std::size_t>(r)], MPI_BYTE, r, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    }
#endif
    return all;
}

bool ensemble::from_root(bool value) const {
    int v = value ? 1 : 0;
#if GLASSY_HAVE_MPI
    if (m_mpi) MPI_Bcast(&v, 1, MPI_INT, 0, MPI_COMM_WORLD);
#endif
    return v != 0;
}

checkpoint ensemble::read_own_checkpoint(const std::string& tool, const std::string& name) const {
    if (const int written = checkpoint_ranks(name); written > 0 && written != m_size)
        throw parameter_error(
            "checkpoint " + name + " was written by " +
            (written == 1 ? std::string("one process") : std::to_string(written) + " MPI ranks") + ", not " +
            std::to_string(m_size) + ": resume it " +
            (written == 1 ? std::string("without mpirun") : "with mpirun -np " + std::to_string(written)));
    try {
        return read_checkpoint(own_file(name));
    } catch (const std::exception& e) {
        if (m_size > 1) fail(tool, e.what(), 1);
        throw;
    }
}

void ensemble::remove_when_complete(bool complete, const std::filesystem::path& own) const {
    if (m_size == 1 || !from_root(complete)) return;
    std::error_code ec;
    std::filesystem::remove(own, ec);
}

void ensemble::fail(const std::string& tool, const std::string& message, int code) const {
    std::fprintf(m_terminal, "%s: error (rank %d of %d): %s\n", tool.c_str(), m_rank, m_size, message.c_str());
    std::fflush(m_terminal);
#if GLASSY_HAVE_MPI
    if (m_mpi) MPI_Abort(MPI_COMM_WORLD, code);
#endif
    std::exit(code);
}

} // namespace glassy::app
