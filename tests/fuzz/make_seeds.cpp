/// @file Writes the seed corpora of the reader fuzzers: `make_seeds <dir>` creates
/// <dir>/record and <dir>/checkpoint holding valid files from write_record/write_checkpoint
/// (a full one with every optional part, a minimal one) and truncated copies of them.
#include "dynamics/checkpoint.hpp"
#include "dynamics/record.hpp"
#include "tests/support/sample_record.hpp"

#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

glassy::record full_record() { return glassy::test::full_sample_record(); }

glassy::record minimal_record() {
    glassy::record r;
    r.system = "net";
    r.method = "sgd";
    r.time = {1};
    r.energy = {2.3};
    return r;
}

glassy::checkpoint full_checkpoint() {
    glassy::checkpoint c;
    c.tool = "pspin_quench";
    c.config = R"({"N":64,"T":0.5})";
    c.strings["rng"] = "1 2 3 4";
    c.integers["step"] = 42;
    c.put("x", {0.1, -0.2, 0.3});
    c.arrays["delta"] = {{2, 2}, {0.0, 0.1, 0.2, 0.3}};
    c.arrays_f32["w"] = {{3}, {1.f, 2.f, 3.f}};
    return c;
}

std::vector<char> slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void spit(const fs::path& p, const std::vector<char>& bytes, std::size_t n) {
    std::ofstream out(p, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(std::min(n, bytes.size())));
}

// Adds truncated copies of `file` (superblock only, half, all but the last byte).
void truncations(const fs::path& file) {
    const auto bytes = slurp(file);
    const std::string stem = file.stem().string();
    for (const std::size_t n : {std::size_t{8}, std::size_t{96}, bytes.size() / 2, bytes.size() - 1})
        spit(file.parent_path() / (stem + "_trunc" + std::to_string(n) + ".h5"), bytes, n);
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: make_seeds <dir>\n");
        return 2;
    }
    try {
        const fs::path dir = argv[1];
        fs::create_directories(dir / "record");
        fs::create_directories(dir / "checkpoint");
        glassy::write_record(full_record(), dir / "record" / "full.h5");
        glassy::write_record(minimal_record(), dir / "record" / "minimal.h5");
        truncations(dir / "record" / "full.h5");
        glassy::write_checkpoint(full_checkpoint(), dir / "checkpoint" / "full.h5");
        glassy::write_checkpoint(glassy::checkpoint{"t", "{}", {}, {}, {}, {}}, dir / "checkpoint" / "empty.h5");
        truncations(dir / "checkpoint" / "full.h5");
        // Each reader must also refuse the other's files cleanly.
        fs::copy_file(dir / "record" / "minimal.h5", dir / "checkpoint" / "a_record.h5");
        fs::copy_file(dir / "checkpoint" / "empty.h5", dir / "record" / "a_checkpoint.h5");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    return 0;
}
