/* Every op family's public declarations. */
#ifndef CF_OPS_H
#define CF_OPS_H

#include "ops/attention.h"
#include "ops/conv.h"
#include "ops/elementwise.h"
#include "ops/fft.h"
#include "ops/index.h"
#include "ops/loss.h"
#include "ops/matmul.h"
#include "ops/norm.h"
#include "ops/random.h"
#include "ops/reduce.h"
#include "ops/shape.h"
#include "ops/sort.h"
#include "ops/spike.h"

#endif
