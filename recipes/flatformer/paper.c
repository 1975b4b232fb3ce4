/* FlatFormer: Flattened Window Attention for Efficient Point Cloud Transformer (Liu et al., CVPR 2023). */
#include "recipes/flatformer/internal.h"
#include "recipes/run/paper.h"

static const cf_model_vtable *const models[] = {&cf_flatformer_model, &cf_flatformer_cls_model, NULL};
static const cf_dataset_entry datasets[] = {{"lidar", ff_lidar_factory}, {"pointcloud-cls", ff_cls_factory}, {0}};
static const cf_data_generator generators[] = {
    {"lidar-scenes", "synthetic LiDAR scenes (ray-cast 32-beam scans, cars / pedestrians / cyclists) as KITTI .bin + labels",
     ff_scenes_cmd, ff_scenes_describe},
    {"primitives", "synthetic primitive clouds (cube, sphere, cylinder, cone, torus, pyramid) in ModelNet40's HDF5 layout",
     ff_primitives_cmd, ff_primitives_describe},
    {0},
};
static const cf_paper_command commands[] = {
    {"pointcloud-bench", "loader throughput (points/s) of KITTI .bin, PLY and PCD", "[--scenes N] [--repeats R] [--json FILE]", ff_bench_cmd},
    {"flatformer-encoder-bench", "encoder ms/frame and padding of flatformer, no-shift and window-padded, measured in one run", "[--frames N] [--repeats R] [--json FILE]", ff_encoder_bench_cmd},
    {0},
};

const cf_paper cf_paper_flatformer = {
    .name = "flatformer",
    .title = "FlatFormer: Flattened Window Attention for Efficient Point Cloud Transformer (Liu et al., CVPR 2023)",
    .models = models,
    .datasets = datasets,
    .generators = generators,
    .commands = commands,
    .smoke_recipe = "flatformer.yaml",
    .smoke_sets = "train.steps=2 train.batch_size=2 data.scenes.train=4 data.scenes.val=2 data.scenes.test=2 eval.every=2 eval.batches=1 eval.batch_size=2",
};
