// conveyor-image-builder's wiring: the stage runtime on `<prefix>.stage.build`,
// the buildah (or buildx) backend, git, the registry reader.
#pragma once

#include "conveyor/runtime/service.hpp"

namespace conveyor::image_builder {

// Environment (the service has no section in conveyor.yaml yet):
//   CONVEYOR_IMAGE_BUILDER_DIR      workspaces (checkouts, per-build image
//                                   stores); default $CONVEYOR_STATE/image-builder,
//                                   $CONVEYOR_STATE defaulting to ~/.local/state/conveyor
//   CONVEYOR_CONTAINERS_DIR         directory with containers.conf and storage.conf
//                                   (default: deploy/containers of the source tree,
//                                   else /etc/conveyor/containers)
//   CONVEYOR_IMAGE_BUILDER_BACKEND  buildah (default) or buildx
int run(runtime::Service& service);

}  // namespace conveyor::image_builder
