from gepad.feedback.validation import (
    NewEvent,
    check_components,
    check_id,
    check_program_name,
    validate_event,
)

__all__ = [
    "NewEvent",
    "check_components",
    "check_id",
    "check_program_name",
    "validate_event",
]
