/* formats/arch_llama.c's messages about rope_scaling name the key the config actually used:
 * older configs write "type", newer ones "rope_type". */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "models/llama.h"
#include "formats/hf_config.h"

#define AL_BASE "\"architectures\": [\"LlamaForCausalLM\"], \"vocab_size\": 100, " \
    "\"max_position_embeddings\": 64, \"hidden_size\": 32, \"num_hidden_layers\": 2, " \
    "\"intermediate_size\": 48, \"num_attention_heads\": 4, \"rms_norm_eps\": 1e-6, "

/* The message wk_llama_hparams_load gives for config.json text json (it must fail). */
static void al_error(const char *json, char *msg, size_t len)
{
    wk_hf_config c = {.path = "m/config.json", .json = cJSON_Parse(json)};
    cr_assert(c.json, "%s", json);
    wk_llama_hparams hp;
    wk_err e = {{0}};
    cr_assert_eq(wk_llama_hparams_load(&c, &hp, &e), -1, "accepted %s", json);
    cJSON_Delete(c.json);
    snprintf(msg, len, "%s", e.msg);
}

Test(arch_llama, rope_type_message_names_the_key_written)
{
    char msg[WK_ERR_MAX];
    al_error("{" AL_BASE "\"rope_scaling\": {\"type\": \"dynamic\", \"factor\": 2}}", msg,
             sizeof msg);
    cr_expect(strstr(msg, "m/config.json: \"rope_scaling.type\" is \"dynamic\"") != NULL, "%s",
              msg);
    al_error("{" AL_BASE "\"rope_scaling\": {\"rope_type\": \"dynamic\", \"factor\": 2}}", msg,
             sizeof msg);
    cr_expect(strstr(msg, "\"rope_scaling.rope_type\" is \"dynamic\"") != NULL, "%s", msg);
    al_error("{" AL_BASE "\"rope_scaling\": {\"type\": 5}}", msg, sizeof msg);
    cr_expect(strstr(msg, "key \"rope_scaling.type\" must be a string") != NULL, "%s", msg);
    al_error("{" AL_BASE "\"rope_parameters\": {\"rope_type\": 5}}", msg, sizeof msg);
    cr_expect(strstr(msg, "key \"rope_parameters.rope_type\" must be a string") != NULL, "%s",
              msg);
}
