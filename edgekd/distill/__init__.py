"""Knowledge distillation: losses and the trainer."""
