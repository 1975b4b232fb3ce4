/* The one geometry every backend's convolution kernels see (the CPU's autograd/cpu/conv.c, the CUDA
 * backend's autograd/cuda/kernels/conv.cu). Plain C, readable by C++.
 *
 * An "image" side (conv input, or conv_transpose output) of IC channels and IT x IH x IW pixels, and a
 * "column" side (conv output, conv_transpose input) of OC channels and L = OT x OH x OW positions, linked
 * by a kernel with stride, padding and dilation. The weight is an [OC, K] matrix per group
 * (K = IC/G * KT*KH*KW) in both conv's [Cout, Cin/G, k...] and conv_transpose's [Cin, Cout/G, k...] layouts.
 * Then, with cols(img) the im2col of one sample's image ([K, L] per group):
 *     conv fwd        : y = W cols(x)                conv_transpose fwd : y = col2im(W^T x)
 *     conv bwd x      : dx += col2im(W^T dy)         conv_transpose bwd : dx += W cols(dy)
 *     conv bwd w      : dW += dy cols(x)^T                                dW += x cols(dy)^T
 * conv1d is conv2d with a height of 1; conv3d (non-overlapping patches) is the same with a depth. */
#ifndef CF_OPS_CONV_GEOM_H
#define CF_OPS_CONV_GEOM_H

#include "autograd/cf_node.h"
#include "autograd/ops/conv_attr.h"

typedef struct cgeom {
    int64_t N, G;
    int64_t IC, IT, IH, IW, plane; /* image side; plane = IT*IH*IW */
    int64_t OC, OT, OH, OW, L;     /* column side */
    int64_t KT, KH, KW;
    int64_t st, sh, sw, pt, ph, pw, dt, dh, dw;
    int64_t ICg, OCg, K;
    bool unit; /* 1x1x1 kernel, stride 1, no padding: an image is its own column matrix */
} cgeom;

static inline cgeom conv_geometry(const cf_node *n)
{
    bool tr = n->op == CF_OP_conv_transpose2d;
    const cf_tensor *img = tr ? n->out : n->in[0], *col = tr ? n->in[0] : n->out, *w = n->in[1];
    int nsp = img->ndim - 2;
    int64_t is[3] = {1, 1, 1}, os[3] = {1, 1, 1}, ks[3] = {1, 1, 1};
    for (int i = 0; i < nsp; i++) {
        is[3 - nsp + i] = img->shape[2 + i];
        os[3 - nsp + i] = col->shape[2 + i];
        ks[3 - nsp + i] = w->shape[2 + i];
    }
    cgeom g;
    g.N = img->shape[0], g.IC = img->shape[1], g.OC = col->shape[1];
    g.IT = is[0], g.IH = is[1], g.IW = is[2], g.OT = os[0], g.OH = os[1], g.OW = os[2];
    g.KT = ks[0], g.KH = ks[1], g.KW = ks[2];
    g.plane = g.IT * g.IH * g.IW, g.L = g.OT * g.OH * g.OW;
    g.st = 1, g.pt = 0, g.dt = 1;
    if (n->op == CF_OP_conv3d) {
        g.G = 1;
        g.st = g.KT, g.sh = g.KH, g.sw = g.KW;
        g.ph = g.pw = 0;
        g.dh = g.dw = 1;
    } else {
        const struct conv_attr *a = CF_ATTR(n, struct conv_attr);
        g.G = a->groups;
        g.sh = a->stride[0], g.sw = a->stride[1];
        g.ph = a->padding[0], g.pw = a->padding[1];
        g.dh = a->dilation[0], g.dw = a->dilation[1];
    }
    g.ICg = g.IC / g.G, g.OCg = g.OC / g.G;
    g.K = g.ICg * g.KT * g.KH * g.KW;
    g.unit = g.KT == 1 && g.KH == 1 && g.KW == 1 && g.st == 1 && g.sh == 1 && g.sw == 1 && g.pt == 0 && g.ph == 0 &&
             g.pw == 0;
    return g;
}

#endif
