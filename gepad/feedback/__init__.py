from gepad.feedback.validation import (
    InvalidArgument,
    NewEvent,
    check_components,
    check_id,
    check_program_name,
    validate_event,
)

__all__ = [
    "InvalidArgument",
    "NewEvent",
    "check_components",
    "check_id",
    "check_program_name",
    "validate_event",
]
