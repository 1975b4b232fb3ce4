/* Distributed training: the process group (pg.h), bucketed data-parallel gradients (ddp.h), ZeRO-1
 * optimizer sharding (zero.h) and the NCCL path (nccl.h). How to run: docs/distributed.md. */
#ifndef CF_DISTRIBUTED_H
#define CF_DISTRIBUTED_H

#include "distributed/ddp.h"
#include "distributed/nccl.h"
#include "distributed/pg.h"
#include "distributed/zero.h"

#endif
