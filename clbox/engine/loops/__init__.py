"""Train loops (experience-based, online) and stream evaluation loops."""
from .evaluation import StreamTestLoop, StreamValLoop
from .experience import ExperienceBasedTrainLoop
from .online import OnlineTrainLoop

__all__ = ['ExperienceBasedTrainLoop', 'OnlineTrainLoop', 'StreamValLoop', 'StreamTestLoop']
