"""Distances: great-circle for planning and stored plan distances, geodesic for check-ins."""

from __future__ import annotations

import numpy as np
from geopy.distance import EARTH_RADIUS, geodesic, great_circle
from numpy.typing import ArrayLike, NDArray

EARTH_RADIUS_M = EARTH_RADIUS * 1000.0


def great_circle_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (geopy), the distance the planner works with."""
    return float(great_circle((lat1, lon1), (lat2, lon2)).meters)


def checkin_distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Geodesic distance in metres (geopy, WGS-84), for a check-in's distance from the home."""
    return float(geodesic((lat1, lon1), (lat2, lon2)).meters)


def great_circle_many_m(
    lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike
) -> NDArray[np.float64]:
    """Vectorised great-circle distances in metres, the same formula and radius as geopy's.

    geopy's `great_circle` costs about 14 us a call; the planner needs millions of them, so
    this repeats its formula (the atan2 form, well conditioned for short and long arcs) on
    arrays. The unit tests hold it to geopy within 1e-9 relative.
    """
    phi1 = np.radians(np.asarray(lat1, dtype=np.float64))
    phi2 = np.radians(np.asarray(lat2, dtype=np.float64))
    dlam = np.radians(np.asarray(lon2, dtype=np.float64) - np.asarray(lon1, dtype=np.float64))
    sin1, cos1 = np.sin(phi1), np.cos(phi1)
    sin2, cos2 = np.sin(phi2), np.cos(phi2)
    cos_d, sin_d = np.cos(dlam), np.sin(dlam)
    y = np.hypot(cos2 * sin_d, cos1 * sin2 - sin1 * cos2 * cos_d)
    x = sin1 * sin2 + cos1 * cos2 * cos_d
    return np.asarray(EARTH_RADIUS_M * np.arctan2(y, x), dtype=np.float64)


def unit_vectors(lat: ArrayLike, lon: ArrayLike) -> NDArray[np.float64]:
    """Points as 3-D unit vectors: chord length grows with great-circle distance, so a
    KD-tree over them finds the great-circle nearest neighbours."""
    phi = np.radians(np.asarray(lat, dtype=np.float64))
    lam = np.radians(np.asarray(lon, dtype=np.float64))
    cos_phi = np.cos(phi)
    return np.column_stack((cos_phi * np.cos(lam), cos_phi * np.sin(lam), np.sin(phi)))


def chord_to_great_circle_m(chord: ArrayLike) -> NDArray[np.float64]:
    """The great-circle distance (metres) of a chord between two unit vectors."""
    c = np.clip(np.asarray(chord, dtype=np.float64), 0.0, 2.0)
    return np.asarray(2.0 * EARTH_RADIUS_M * np.arcsin(c / 2.0), dtype=np.float64)
