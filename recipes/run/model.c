/* The model registry and the metrics table. */
#include "recipes/run/model.h"

#include <string.h>

#define MAX_MODELS 64
static const cf_model_vtable *models[MAX_MODELS];
static int n_models;

cf_status cf_model_register(const cf_model_vtable *vt)
{
    for (int i = 0; i < n_models; i++)
        if (strcmp(models[i]->name, vt->name) == 0) {
            models[i] = vt;
            return CF_OK;
        }
    if (n_models == MAX_MODELS) return cf_set_error(CF_ERR_ARG, "model registry full (%d models)", MAX_MODELS);
    models[n_models++] = vt;
    return CF_OK;
}

const cf_model_vtable *cf_model_find(const char *name)
{
    for (int i = 0; i < n_models; i++)
        if (strcmp(models[i]->name, name) == 0) return models[i];
    return NULL;
}

int cf_model_count(void) { return n_models; }
const cf_model_vtable *cf_model_at(int i) { return i >= 0 && i < n_models ? models[i] : NULL; }

void cf_metrics_set(cf_metrics *m, const char *name, double value)
{
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->name[i], name) == 0) {
            m->value[i] = value;
            return;
        }
    if (m->n == CF_METRICS_MAX || strlen(name) >= sizeof m->name[0]) {
        if (m->dropped++ == 0) snprintf(m->first_dropped, sizeof m->first_dropped, "%s", name);
        return;
    }
    snprintf(m->name[m->n], sizeof m->name[0], "%s", name);
    m->value[m->n++] = value;
}

cf_status cf_metrics_check(const cf_metrics *m)
{
    if (m->dropped == 0) return CF_OK;
    return cf_set_error(CF_ERR_INTERNAL, "%d metric(s) did not fit the report, the first '%s' (at most %d metrics of "
                        "names under %d characters)", m->dropped, m->first_dropped, CF_METRICS_MAX,
                        CF_METRIC_NAME_MAX - 1);
}

bool cf_metrics_get(const cf_metrics *m, const char *name, double *value)
{
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->name[i], name) == 0) {
            *value = m->value[i];
            return true;
        }
    return false;
}
