/// @file Writes the seed corpora of the reader fuzzers: `make_seeds <dir>` creates
/// <dir>/record and <dir>/checkpoint holding valid files from write_record/write_checkpoint
/// (a full one with every optional part, a minimal one, a record with every member of the
/// /hessian group), one as another writer (h5py, Fortran)
/// would leave it, and truncated copies of them.
#include "dynamics/checkpoint.hpp"
#include "dynamics/record.hpp"
#include "tests/support/sample_record.hpp"

#include <H5Cpp.h>

#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <utility>
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

// The full record rewritten as another writer might leave it: space-padded fixed-length
// `system`/`method`, /aging/delta chunked by row with a NaN fill value and its last row never
// written, /ck/C deflate-compressed. Exercises the reader's paths for files glassy never writes.
void other_writer(const fs::path& path) {
    glassy::record r = full_record();
    glassy::write_record(r, path);
    H5::H5File f(path.string(), H5F_ACC_RDWR);
    H5::Group root = f.openGroup("/");
    for (const auto& [name, value] : {std::pair{"system", "pspin   "}, std::pair{"method", "langevin  "}}) {
        root.removeAttr(name);
        H5::StrType type(H5::PredType::C_S1, std::string(value).size());
        type.setStrpad(H5T_STR_SPACEPAD);
        root.createAttribute(name, type, H5::DataSpace(H5S_SCALAR)).write(type, value);
    }
    const auto& delta = r.aging.delta;
    const hsize_t dims[2] = {static_cast<hsize_t>(delta.rows()), static_cast<hsize_t>(delta.cols())};
    const hsize_t row[2] = {1, dims[1]}, start[2] = {0, 0};
    const double nan = std::numeric_limits<double>::quiet_NaN();
    H5::DSetCreatPropList chunked;
    chunked.setChunk(2, row);
    chunked.setFillValue(H5::PredType::NATIVE_DOUBLE, &nan);
    f.unlink("aging/delta");
    H5::DataSet d = f.createDataSet("aging/delta", H5::PredType::IEEE_F64LE, H5::DataSpace(2, dims), chunked);
    H5::DataSpace first = d.getSpace();
    first.selectHyperslab(H5S_SELECT_SET, row, start);
    d.write(delta.data(), H5::PredType::NATIVE_DOUBLE, H5::DataSpace(2, row), first);
    const auto& c = r.extra.at("ck/C");
    const hsize_t cdims[2] = {c.shape[0], c.shape[1]};
    H5::DSetCreatPropList deflated;
    deflated.setChunk(2, cdims);
    deflated.setDeflate(6);
    f.unlink("ck/C");
    f.createDataSet("ck/C", H5::PredType::IEEE_F64LE, H5::DataSpace(2, cdims), deflated)
        .write(c.data.data(), H5::PredType::NATIVE_DOUBLE);
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
        glassy::write_record(glassy::test::hessian_sample_record(), dir / "record" / "hessian.h5");
        other_writer(dir / "record" / "other_writer.h5");
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
