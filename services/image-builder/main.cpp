// conveyor-image-builder: builds and pushes the pipeline's multi-arch images.
#include "app.hpp"

int main(int argc, char** argv) {
  return conveyor::runtime::main(argc, argv, "image-builder", conveyor::image_builder::run);
}
