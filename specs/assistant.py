"""An InferenceGraph in front of the assistant's models: one request reaches both the chat model and
the embedder (Ensemble), and the answer holds the reply and the prompt's embedding (for the semantic
cache); the graph has its own error-rate and latency alerts. Models are referenced by their spec objects,
imported under a leading underscore so that this module does not declare them a second time."""

from llama3_chat import LLAMA3_CHAT as _LLAMA3_CHAT
from text_embedder import TEXT_EMBEDDER as _TEXT_EMBEDDER

from servespec.spec import GraphNode, GraphStep, InferenceGraph

ASSISTANT = InferenceGraph(
    name="assistant",
    nodes={
        "root": GraphNode(router_type="Ensemble", steps=[
            GraphStep(name="reply", model=_LLAMA3_CHAT),
            GraphStep(name="embedding", model=_TEXT_EMBEDDER),
        ]),
    },
    min_replicas=1,
    timeout=120,
)
