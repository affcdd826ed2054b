"""The training service: fine-tune a semantic model per bundle (the training work is still to come)."""
