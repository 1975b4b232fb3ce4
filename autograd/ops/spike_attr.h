/* Attributes of the surrogate-gradient step functions. */
#ifndef CF_SPIKE_ATTR_H
#define CF_SPIKE_ATTR_H

struct spike_attr {
    int kind; /* cf_surrogate */
    double alpha;
};

#endif
