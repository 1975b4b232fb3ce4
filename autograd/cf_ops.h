/* Every op family's public declarations. */
#ifndef CF_OPS_H
#define CF_OPS_H

#include "autograd/ops/attention.h"
#include "autograd/ops/conv.h"
#include "autograd/ops/elementwise.h"
#include "autograd/ops/fft.h"
#include "autograd/ops/index.h"
#include "autograd/ops/loss.h"
#include "autograd/ops/matmul.h"
#include "autograd/ops/norm.h"
#include "autograd/ops/random.h"
#include "autograd/ops/reduce.h"
#include "autograd/ops/segment.h"
#include "autograd/ops/shape.h"
#include "autograd/ops/sort.h"
#include "autograd/ops/spike.h"

#endif
