/* `cformer eval`: a checkpoint on the validation split, as a table and as eval.json. */
#include "autograd/fileio.h"
#include "recipes/run/progress.h"
#include "recipes/checkpoint/checkpoint.h"
#include "recipes/run/run.h"

#include <math.h>
#include <stdio.h>

cf_status cf_evaluate(const cf_run_options *o, const char *ckpt, const char *out_path)
{
    cf_run run;
    cf_status st = cf_run_open(&run, o, false);
    cf_train_state ts = {0};
    if (st == CF_OK) st = cf_checkpoint_load(ckpt, run.params, 0, NULL, &ts, NULL);
    cf_metrics m = {0};
    if (st == CF_OK) st = cf_run_evaluate(&run, 0, &m);
    if (st == CF_OK) {
        cf_metrics_set(&m, "step", (double)ts.step);
        char path[1200];
        if (out_path) {
            snprintf(path, sizeof path, "%s", out_path);
        } else {
            st = cf_mkdirs(run.run_dir);
            snprintf(path, sizeof path, "%s/eval.json", run.run_dir);
        }
        if (st == CF_OK)
            st = run.model->vt->write_eval ? run.model->vt->write_eval(run.model, path, &m) : cf_write_metrics_json(path, &m);
        if (st == CF_OK) {
            printf("%-24s %s\n", "metric", "value");
            for (int i = 0; i < m.n; i++) printf("%-24s %.6g\n", m.name[i], m.value[i]);
            printf("wrote %s\n", path);
        }
    }
    cf_run_close(&run);
    return st;
}
