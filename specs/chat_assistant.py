"""A small instruct model from Hugging Face on one GPU, served by vLLM through KServe's
LLMInferenceService, in the environments whose KServe has it (0.16+): prod (dev and staging run
KServe 0.15). The Hugging Face token comes from the secret manager; the weights are cached on the GPU
nodes before a new version gets traffic."""

from servespec.spec import (
    LLM,
    Accelerators,
    HFTokenExternalSecret,
    LLMCache,
    RemoteRef,
    Resources,
    Toleration,
)

CHAT_ASSISTANT = LLM(
    name="chat-assistant",
    model_uri="hf://Qwen/Qwen2.5-1.5B-Instruct",
    served_name="qwen2.5-1.5b-instruct",
    environments=["prod"],
    replicas=2,
    accelerators=Accelerators(resource="nvidia.com/gpu", count=1),
    resources=Resources(requests={"cpu": "2", "memory": "16Gi"}, limits={"cpu": "4", "memory": "16Gi"}),
    node_selector={"nvidia.com/gpu.present": "true"},
    tolerations=[Toleration(key="nvidia.com/gpu", operator="Exists", effect="NoSchedule")],
    env={"VLLM_ADDITIONAL_ARGS": "--max-model-len 8192"},
    hf_token=HFTokenExternalSecret(store="vault-backend", token=RemoteRef(key="ml/huggingface", property="token")),
    cache=LLMCache(node_groups=["gpu-nodes"], model_size="4Gi"),
)
