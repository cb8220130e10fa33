#pragma once
/// @file Runs gnuplot as a subprocess. Returns what happened instead of printing.
#include <filesystem>
#include <string>

namespace glassy {

/// Outcome of one gnuplot run.
struct gnuplot_result {
    bool ok = false;      ///< gnuplot ran and exited with status 0
    bool missing = false; ///< the program could not be executed at all
    std::string message;  ///< first line of gnuplot's error output, or why it could not run
};

/// Whether `program` (a path, or a name looked up in PATH) is an executable file.
[[nodiscard]] bool gnuplot_available(const std::string& program);

/// Runs `program script` with the working directory `workdir` (so that the script can name
/// its data files relative to it); stdout is discarded, stderr captured for the message.
[[nodiscard]] gnuplot_result run_gnuplot(const std::string& program, const std::filesystem::path& script,
                                         const std::filesystem::path& workdir);

/// The best PNG terminal `program` offers: "pngcairo" when it has one, else "png".
[[nodiscard]] std::string png_terminal(const std::string& program);

} // namespace glassy
