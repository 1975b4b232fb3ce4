/* Evaluation: the validation loss training logs, and `cformer eval` (a checkpoint scored on eval.split by the
 * model's own evaluation, as a table and as eval.json). */
#include "autograd/fileio.h"
#include "recipes/checkpoint/checkpoint.h"
#include "recipes/run/progress.h"
#include "recipes/run/run.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

cf_status cf_run_validate(cf_run *run, cf_dataset *ds, const char *prefix, cf_metrics *out)
{
    cf_model *m = run->model;
    cf_loader_config lc = cf_loader_defaults();
    lc.batch_size = (int)(run->eval_batch_size < ds->len ? run->eval_batch_size : ds->len);
    lc.shuffle = false, lc.prefetch = false, lc.drop_last = false;
    cf_loader *l = cf_loader_create(ds, &lc);
    if (!l) return cf_last_status();
    int64_t nb = cf_loader_batches_per_epoch(l);
    if (run->eval_batches > 0 && run->eval_batches < nb) nb = run->eval_batches;
    bool prev_grad = cf_set_grad_enabled(run->ctx, false), prev_train = cf_is_training(run->ctx);
    cf_set_training(run->ctx, false);
    double sum = 0, items = 0;
    cf_status st = CF_OK;
    for (int64_t i = 0; i < nb && st == CF_OK; i++) {
        cf_batch device_batch;
        const cf_batch *b = cf_loader_next(l), *db = cf_batch_on_device(run->ctx, b, &device_batch);
        cf_tensor *loss = db ? m->vt->loss(m, run->ctx, db, NULL) : NULL;
        if (!loss) {
            st = cf_last_status();
            break;
        }
        double w = (double)m->vt->items(m, b);
        sum += cf_item(loss) * w, items += w;
        cf_step_reset(run->ctx);
    }
    cf_set_training(run->ctx, prev_train);
    cf_set_grad_enabled(run->ctx, prev_grad);
    cf_loader_free(l);
    if (st == CF_OK) {
        char key[64];
        snprintf(key, sizeof key, "%s%sloss", prefix, prefix[0] ? "_" : "");
        cf_metrics_set(out, key, sum / items);
        snprintf(key, sizeof key, "%s%sitems", prefix, prefix[0] ? "_" : "");
        cf_metrics_set(out, key, items);
    }
    return st;
}

cf_status cf_evaluate(const cf_run_options *o, const char *ckpt, const char *out_path)
{
    if (out_path && cf_same_file(out_path, ckpt))
        return cf_set_error(CF_ERR_ARG, "--out %s is the checkpoint being evaluated; choose another file", out_path);
    cf_run_options oo = *o;
    if (!oo.recipe_path) oo.recipe_from = ckpt;
    cf_run run;
    cf_status st = cf_run_open(&run, &oo, false);
    cf_train_state ts = {0};
    if (st == CF_OK) st = cf_checkpoint_load(ckpt, run.params, 0, NULL, &ts, NULL);
    if (st == CF_OK) st = cf_params_check_finite(run.params, ckpt);
    cf_dataset *split = NULL;
    if (st == CF_OK) {
        split = strcmp(run.eval_split, "val") == 0 ? run.val_set : cf_run_open_split(&run, run.eval_split);
        if (!split) st = cf_last_status();
    }
    cf_metrics m = {0};
    cf_model *model = run.model;
    if (st == CF_OK && model->vt->evaluate) {
        cf_eval_input in = {.recipe = run.recipe, .info = &run.train_set->info, .split = split,
                            .split_name = run.eval_split, .train = run.train_set, .batch_size = run.eval_batch_size};
        st = model->vt->evaluate(model, run.ctx, &in, &m);
    } else if (st == CF_OK) {
        st = cf_run_validate(&run, split, run.eval_split, &m);
    }
    if (split != run.val_set) cf_dataset_free(split);
    if (st == CF_OK) {
        cf_metrics_set(&m, "step", (double)ts.step);
        st = cf_metrics_check(&m);
    }
    if (st == CF_OK) {
        char path[1200];
        if (out_path) {
            snprintf(path, sizeof path, "%s", out_path);
        } else {
            st = cf_mkdirs(run.run_dir);
            snprintf(path, sizeof path, "%s/eval.json", run.run_dir);
        }
        if (st == CF_OK)
            st = model->vt->write_eval ? model->vt->write_eval(model, path, &m) : cf_write_metrics_json(path, &m);
        if (st == CF_OK) {
            printf("%-24s %s\n", "metric", "value");
            for (int i = 0; i < m.n; i++) printf("%-24s %.6g\n", m.name[i], m.value[i]);
            printf("wrote %s\n", path);
        }
    }
    cf_run_close(&run);
    return st;
}
