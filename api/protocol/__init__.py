"""The thread-centric streaming protocol (langgraph-sdk threads.stream)."""
