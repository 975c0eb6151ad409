#pragma once
// NumPy's .npz format: a zip archive (stored or deflated) of .npy members,
// NAME.npy for the array NAME (numpy.savez). Read with Debian's libzip, which
// checks the archive's structure and CRCs; each member's size is checked
// against DataLimits before it is inflated.
#include <map>
#include <string>

#include "host/data/npy.h"

namespace graft {

// Every member NAME.npy of the archive, by NAME. Throws graft::Error naming
// the file (and member) for anything that is not a valid archive of .npy
// files.
std::map<std::string, NpyArray> read_npz(const std::string& path, const DataLimits& limits = {});

// Writes `arrays` (.npy images by name, see npy_image_f32) as an
// uncompressed .npz (numpy.savez's layout), for graft's own outputs and tests.
void write_npz(const std::string& path, const std::map<std::string, std::string>& npy_images);

}  // namespace graft
