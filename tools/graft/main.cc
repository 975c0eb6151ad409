// graft: transfer learning with TensorFlow checkpoints, without TensorFlow.
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include <google/protobuf/stubs/logging.h>

#include "checkpoint/error.h"
#include "checkpoint/printable.h"
#include "cuda/cuda_backend.h"
#include "graft/version.h"
#include "host/cpu/blas_kernels.h"
#include "host/cpu/gemm_engine.h"
#include "tools/graft/commands.h"

namespace graft::cli {

int& exit_code() {
  static int code = 0;
  return code;
}

void run_guarded(const char* sub, const std::function<int()>& fn) {
  try {
    exit_code() = fn();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "graft %s: error: %s\n", sub, graft::printable(e.what()).c_str());
    exit_code() = 1;
  }
}

}  // namespace graft::cli

namespace {

std::string version_text() {
  std::string text = std::string("graft ") + GRAFT_VERSION + "\n";
  const graft::cpu::BlasReport& blas = graft::cpu::blas_report();
  const graft::cpu::CpuFeatures& cpu = graft::cpu::host_cpu_features();
  text += "CPU: " + (cpu.brand.empty() ? cpu.vendor : cpu.brand) + ", " + cpu.flags() + "\n";
  text += "CPU BLAS: " + graft::cpu::blas_summary() + "\n";
  if (!blas.decision.advice.empty()) text += "CPU BLAS note: " + blas.decision.advice + "\n";
  const graft::cpu::GemmEnginePolicy& gemm = graft::cpu::gemm_engine_policy();
  if (gemm.libxsmm) {
    text += "CPU GEMM: " + gemm.summary + "; OpenBLAS the rest\n";
  } else {
    text += "CPU GEMM: OpenBLAS for every GEMM" + (gemm.summary.empty() ? "" : " (" + gemm.summary + ")") + "\n";
  }
  if (graft::cuda_compiled()) {
    text += "CUDA backend: compiled in\n";
    text += "CUDA device: " + graft::cuda_device_summary() + "\n";
  } else {
    text += "CUDA backend: not compiled in (CPU reference backend only)\n";
  }
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  // OpenBLAS on a CPU it does not know runs generic kernels: run again with
  // the right ones (once; see host/cpu/blas_kernels.h).
  graft::cpu::use_best_blas_kernels(argv);
  // A closed stdout (`graft train | head -1`) makes writes fail with EPIPE
  // instead of killing the process before it saves.
  std::signal(SIGPIPE, SIG_IGN);
  // protobuf logs some parse failures itself (e.g. a string field that is
  // not UTF-8 in a corrupt entry); graft reports them as one error line.
  google::protobuf::SetLogHandler(nullptr);
  CLI::App app{
      "graft: reuse the layers of a TensorFlow-trained dense network without TensorFlow.\n"
      "Read TF checkpoints, restore the layers you choose, freeze, train on CPU or GPU,\n"
      "and save checkpoints TensorFlow reads back."};
  app.set_version_flag("--version", version_text, "Print the version, whether the CUDA backend is compiled in, and the device");
  app.require_subcommand(1);
  graft::cli::register_inspect(app);
  graft::cli::register_extract(app);
  graft::cli::register_train(app);
  graft::cli::register_eval(app);
  graft::cli::register_predict(app);
  graft::cli::register_export(app);
  graft::cli::register_demo(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // Like every other error: one line naming the subcommand, exit 1 (CLI11
    // would print two lines and exit with its own code, 104-114).
    std::string where = "graft";
    for (const CLI::App* sub : app.get_subcommands()) where += std::string(" ") + sub->get_name();
    std::fprintf(stderr, "%s: error: %s (see --help)\n", where.c_str(), graft::printable(e.what()).c_str());
    return 1;
  }
  // A report that could not be written is an error (inspect --json >
  // /dev/full). Not for train and demo: they ignore SIGPIPE and a failed
  // write of their progress lines, keep training and save (`graft train |
  // head -1` must not lose the checkpoint; docs/reliability.md).
  const std::string sub = app.get_subcommands().empty() ? "" : app.get_subcommands().front()->get_name();
  if ((std::fflush(stdout) != 0 || std::ferror(stdout)) && sub != "train" && sub != "demo") {
    const int err = errno;
    std::fprintf(stderr, "graft %s: error: cannot write the output to standard output: %s\n", sub.c_str(),
                 std::strerror(err ? err : EIO));
    return 1;
  }
  return graft::cli::exit_code();
}
