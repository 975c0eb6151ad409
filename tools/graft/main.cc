// graft: transfer learning with TensorFlow checkpoints, without TensorFlow.
#include <cstdio>
#include <exception>
#include <string>

#include <google/protobuf/stubs/logging.h>

#include "checkpoint/error.h"
#include "cuda/cuda_backend.h"
#include "graft/version.h"
#include "host/cpu/blas_kernels.h"
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
    std::fprintf(stderr, "graft %s: error: %s\n", sub, e.what());
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
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return graft::cli::exit_code();
}
