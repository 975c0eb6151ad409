#pragma once
// Small synthetic data sets shared by the tests: Gaussian blobs in memory
// (host::DataSplit) and tiny 28x28 IDX files on disk for end-to-end runs of
// the CLI. Header-only, so only tests that link graft_host pull in host/.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "host/data/dataset.h"

namespace graft::test {

// Four Gaussian blobs in 8 dimensions; `shift` relabels (class + shift) % 4.
inline DataSplit blobs(int64_t rows, uint32_t seed, int shift = 0) {
  DataSplit s;
  s.rows = rows;
  s.cols = 8;
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.0f, 0.6f);
  for (int64_t i = 0; i < rows; ++i) {
    const int c = static_cast<int>(rng() % 4);
    for (int k = 0; k < 8; ++k) s.features.push_back((k % 4 == c ? 1.5f : 0.0f) + noise(rng));
    s.labels.push_back((c + shift) % 4);
  }
  return s;
}

inline void put_be32(std::string& out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// An uncompressed IDX file of unsigned bytes.
inline void write_idx(const std::filesystem::path& path, const std::vector<uint32_t>& dims,
                      const std::vector<uint8_t>& data) {
  std::string out("\0\0\x08", 3);
  out.push_back(static_cast<char>(dims.size()));
  for (uint32_t d : dims) put_be32(out, d);
  out.append(reinterpret_cast<const char*>(data.data()), data.size());
  std::ofstream(path, std::ios::binary) << out;
}

// STEM-images-idx3-ubyte and STEM-labels-idx1-ubyte in `dir`: four classes of
// 28x28 images, noise plus a bright band whose rows depend on the class, so a
// small network learns something in a few epochs.
inline void write_banded_split(const std::filesystem::path& dir, const std::string& stem, uint32_t n,
                               uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> images, labels;
  for (uint32_t i = 0; i < n; ++i) {
    const int c = static_cast<int>(rng() % 4);
    labels.push_back(static_cast<uint8_t>(c));
    for (int p = 0; p < 28 * 28; ++p) images.push_back(static_cast<uint8_t>((p / 28 / 7 == c ? 140 : 0) + rng() % 100));
  }
  write_idx(dir / (stem + "-images-idx3-ubyte"), {n, 28, 28}, images);
  write_idx(dir / (stem + "-labels-idx1-ubyte"), {n}, labels);
}

// parent/data with `train` banded training images and `test` t10k ones, as
// `graft train --data` expects; returns that folder.
inline std::filesystem::path banded_data_dir(const std::filesystem::path& parent, uint32_t train,
                                             uint32_t test) {
  const std::filesystem::path data = parent / "data";
  std::filesystem::create_directories(data);
  write_banded_split(data, "train", train, 1);
  write_banded_split(data, "t10k", test, 2);
  return data;
}

}  // namespace graft::test
