/* cformer: the umbrella header. Include this and link cformer::autograd (or the libraries from
 * pkg-config --libs cformer). */
#ifndef CFORMER_H
#define CFORMER_H

#define CF_VERSION_MAJOR 0
#define CF_VERSION_MINOR 1
#define CF_VERSION_PATCH 0

#include "autograd/cf_base.h"
#include "autograd/cf_ctx.h"
#include "autograd/cf_ops.h"
#include "autograd/cf_tensor.h"
#include "autograd/recompute.h"
#include "autograd/rng.h"

#endif
