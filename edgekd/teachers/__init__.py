"""Teachers: trained on the spot or loaded from the user's model file."""
