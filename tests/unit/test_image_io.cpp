// Question answered: does image input (BMP decoding, nearest-neighbour resize, dtype
// conversion) produce exactly the input bytes the goldens were made from? And does a
// broken BMP give a clear error?
#include <catch2/catch.hpp>

#include <filesystem>

#include "tessel/frontend/tflite.hpp"
#include "tessel/io/files.hpp"
#include "tessel/io/image.hpp"

namespace fs = std::filesystem;
using namespace tessel;

namespace {
const fs::path kShared = TESSEL_SHARED_DIR;
}

TEST_CASE("BMP images convert to the goldens' input bytes for every image model") {
  int checked = 0;
  for (const auto& dir : fs::directory_iterator(kShared / "goldens")) {
    if (!dir.is_directory()) continue;
    const std::string model = dir.path().filename().string();
    for (const char* image : {"grace_hopper", "cat", "bird_segmentation"}) {
      const fs::path golden_input = dir.path() / (std::string(image) + ".input.bin");
      if (!fs::exists(golden_input)) continue;
      INFO("model " << model << ", image " << image);
      const ir::Graph g = tflite::import_file((kShared / "models" / "tflite" / (model + ".tflite")).string());
      const ir::Tensor& in = g.tensors.at(static_cast<size_t>(g.inputs.at(0)));
      const auto bytes = io::image_to_input(io::read_bmp((kShared / "images" / (std::string(image) + ".bmp")).string()), in);
      CHECK(bytes == io::read_file(golden_input.string()));
      ++checked;
    }
  }
  // grace_hopper + cat for 3 MobileNets, ResNet-8 and VWW; + bird_segmentation for DeepLabV3.
  CHECK(checked == 13);
}

TEST_CASE("xorshift inputs equal the goldens' random inputs") {
  const auto bytes = io::xorshift_bytes(1, 8, 1);
  CHECK(bytes == std::vector<uint8_t>{0x21, 0x01, 0xc5, 0x4f, 0xd1, 0xd0, 0x1a, 0xb2});
  const auto golden = io::read_file((kShared / "goldens" / "tflm_person_detect" / "rand_seed2.input.bin").string());
  CHECK(io::xorshift_bytes(2, golden.size(), 1) == golden);
}

TEST_CASE("broken BMP files give errors naming the problem") {
  const auto good = io::read_file((kShared / "images" / "cat.bmp").string());
  auto expect_error = [](std::vector<uint8_t> bytes, const std::string& fragment) {
    try {
      io::decode_bmp(bytes, "x.bmp");
      FAIL("no error for case expecting '" << fragment << "'");
    } catch (const Error& e) {
      CHECK_THAT(e.what(), Catch::Contains("x.bmp") && Catch::Contains(fragment));
    }
  };
  expect_error({}, "truncated");
  expect_error({'P', 'K', 3, 4}, "not a BMP");
  expect_error(std::vector<uint8_t>(good.begin(), good.begin() + 1000), "pixel data");
  auto bad = good;
  bad[30] = 1;  // RLE8 compression
  expect_error(bad, "compression 1");
  bad = good;
  bad[28] = 16;
  expect_error(bad, "16 bits per pixel");
  bad = good;
  bad[18] = bad[19] = bad[20] = bad[21] = 0;  // width 0
  expect_error(bad, "invalid");
  // Every truncation gives an error, never a crash.
  for (size_t n = 0; n < 200; ++n) {
    std::vector<uint8_t> cut(good.begin(), good.begin() + static_cast<long>(n));
    CHECK_THROWS_AS(io::decode_bmp(cut, "x.bmp"), Error);
  }
}

TEST_CASE("image_to_input refuses layouts and dtypes it cannot fill") {
  io::Image img{4, 4, 3, std::vector<uint8_t>(48, 7)};
  ir::Tensor t;
  t.name = "x";
  t.dtype = ir::DType::f32;
  t.shape = {1, 2, 2, 3};
  CHECK_THROWS_WITH(io::image_to_input(img, t), Catch::Contains("float32") && Catch::Contains("raw file"));
  t.dtype = ir::DType::u8;
  t.shape = {1, 2, 2};
  CHECK_THROWS_WITH(io::image_to_input(img, t), Catch::Contains("[1, H, W, C]"));
  t.shape = {1, 2, 2, 1};
  const auto grey = io::image_to_input(img, t);
  CHECK(grey == std::vector<uint8_t>(4, 7));  // luma of (7,7,7) is 7
  t.dtype = ir::DType::i8;
  t.shape = {1, 2, 2, 3};
  CHECK(io::image_to_input(img, t) == std::vector<uint8_t>(12, static_cast<uint8_t>(7 - 128)));
}
