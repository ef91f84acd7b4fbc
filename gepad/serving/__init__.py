from gepad.serving.prompts import ServedPrompts

__all__ = ["ServedPrompts"]
